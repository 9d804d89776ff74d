"""SLOs: policies, error budgets, burn rates and burn-rate alerting."""
