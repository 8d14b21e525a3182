"""The `polku` commands, one module each: thin typer layers over the steps."""
