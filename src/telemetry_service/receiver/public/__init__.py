"""Public usage statistics: aggregates of the stored snapshots (and events) that anyone may read
at ``/public`` when ``public.enabled`` is true, computed on a schedule and served from memory.

``privacy`` holds every rule about what may be published; ``aggregate`` computes the document
with those rules; ``service`` refreshes, stores and holds it; ``routes`` serves it.
"""
