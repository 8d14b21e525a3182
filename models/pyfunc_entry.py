"""MLflow "models from code" entry point of the Polku pyfunc (see `models.registry`).

MLflow executes this file when it saves or loads the model; nothing else imports it. It only
names the wrapper class: the fitted bundle is an artifact, hash-checked in `load_context`.
"""

from mlflow.models import set_model

from models.registry import PolkuPyfunc

set_model(PolkuPyfunc())
