"""How the spectrum is swept: a validated StudyConfig (config), the spaces it names (spaces), the plan, the
workers and the runner that train it, and what a study writes (outputs). Kept light: importing the package
imports none of its modules (run_study.py parses its flags before torch or optuna is loaded)."""
