"""The Strawberry GraphQL layer: types and thin resolvers over ``server`` services."""
