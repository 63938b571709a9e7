"""PostgreSQL: the connection pool, the migration runner and every runtime query."""
