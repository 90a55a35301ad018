"""Results: reading run records back (tables, figures), the claims checked against them and their statistics."""
