"""The rules of each operation, independent of HTTP, one module per resource.

:mod:`~xcomkit.service.xcoms` (XComs), :mod:`~xcomkit.service.dag_runs` (DAG runs),
:mod:`~xcomkit.service.users` (logins) and :mod:`~xcomkit.service.health`. Each function
takes a :class:`~xcomkit.store.database.Database` first (the work lanes pass it, see
:mod:`xcomkit.server.execution`) and raises the domain errors of :mod:`xcomkit.errors`;
:mod:`xcomkit.server.errors` turns those into answers.
"""
