"""opsgraph runtime: settings, app factory, database, bus, auth, jobs and domains."""
