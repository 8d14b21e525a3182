"""The service ranker: for each client and service, the outcome without the service and the uplift.

Method (docs/MODEL.md has the why): a cross-fitted doubly robust learner (DR-learner), one
module per stage: `nuisances` (1), `final_stage` (2, 3), `stacking` (3), `intervals` (4),
`shrinkage` (5), and
`service_ranker`, the estimator that composes them.

1. Nuisances, cross-fitted over folds of clients: an outcome model per target (logistic
   regression on the features, the action, and action x feature interactions, so the
   outcome under every action comes from one matrix product) and the propensity of the
   logged action (the logged propensity when the logs carry it, else a multinomial logistic
   model over actions renormalised over the services the client was allowed).
2. AIPW pseudo-outcomes per service k against no service:
   ``mu_k(x) - mu_0(x) + 1[A=k] (Y - mu_k(x)) / e_k(x) - 1[A=none] (Y - mu_0(x)) / e_0(x)``,
   (subscript 0: no service, the last action in every array, `models.actions`), with
   propensities floored at `propensity_floor` (share floored is reported).
3. Final stage: a linear regression of the pseudo-outcomes on the features, per service and
   target, on the rows allowed that service: the outcome model's own effect plus a ridge
   fit of the AIPW correction, whose penalty is chosen by cross-validation. Then `stacking`:
   the served uplift `a + b * final stage + c * practice log-odds`, fitted on out-of-fold
   predictions against the pseudo-outcomes (the practice log-odds come from a cross-fitted
   model of the caseworkers' choices, `nuisances.cross_fit_practice`), when its
   cross-validated DR loss is credibly lower. Serving is a matrix product.
4. Uncertainty: the final stage refitted on `n_bootstrap` Poisson bootstrap resamples of
   clients (nuisances held fixed), stored as a weight tensor. That spread alone misses the
   shrinkage bias and the nuisances' error, so (`interval_method="calibrated"`)
   a DR-learner that never saw a fold predicts it, a calibration model per target and
   service regresses the fold's pseudo-outcomes on those predictions and a few profile
   indicators (cluster-robust errors), and the interval is centred on the calibrated
   uplift with its standard error and the bootstrap spread, widened to hold the point
   estimate (docs/MODEL.md).
5. The number shown (`interval_method="shrunk"`, the default): the uplift shrunk by a
   two-level empirical-Bayes prior (`shrinkage`), against the winner's curse of the top
   suggestion; the interval is centred on it and adds the calibrated error of 4. The
   ranking stays the model's uplift.

Examples
--------
>>> ranker = ServiceRanker(services=catalog.ids).fit(  # doctest: +SKIP
...     frame, episodes["service_id"], outcomes_from_episodes(episodes),
...     propensity=episodes["propensity"], allowed=catalog.allowed_frame(frame),
...     groups=episodes["client_id"])
>>> ranker.predict_uplift(frame).shape  # (n, len(TARGETS), len(ranker.services_))  # doctest: +SKIP
"""

from models.ranker.intervals import CALIBRATION_FEATURES
from models.ranker.service_ranker import INTERVAL_METHODS, ClientScores, ServiceRanker

__all__ = ["CALIBRATION_FEATURES", "INTERVAL_METHODS", "ClientScores", "ServiceRanker"]
