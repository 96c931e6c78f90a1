"""Declarative model specs (TOML) shipped with bnsl-bayes; load them with bnsl_bayes.spec.load_spec."""
