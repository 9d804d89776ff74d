"""opsgraph's GraphQL engine: Strawberry's schema, executed more directly.

- Strawberry's per-operation extension hooks cost more than executing a typical
  operation, so HTTP queries and mutations and valid subscriptions run straight
  on graphql-core (``schema``); a schema extension is applied on every path or
  refused when the schema is built (``extensions``, ``limits``).
- A query text is parsed, limited and validated once, not per request
  (``documents``); errors are coded and masked alike on every path (``errors``).
- A subscription event is rendered once per distinct selection, not once per
  subscriber, and executors are built without reference cycles, so that the
  cyclic garbage collector never has to stall requests in flight (``execution``).
- A list its resolver already rendered (``Prerendered``) is passed through rather
  than completed item by item (``execution``; ``schema.rendering`` makes them).

These rely on names of Strawberry and graphql-core that are not their public
API; ``tests/engine/test_fence.py`` lists every one, and fails naming what a new
version removed or changed.
"""
