"""The report store's SQL: module-level functions of ``(cursor, dialect, …)``, by what they
read or write, with the SQL written once for both backends."""
