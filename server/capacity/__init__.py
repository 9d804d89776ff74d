"""Capacity: policies per meter, and forecasts of when a meter reaches its capacity."""
