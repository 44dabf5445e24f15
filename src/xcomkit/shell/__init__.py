"""The parts of the ``xcomkit`` command that talk to a running API server.

``xcomkit login`` and ``xcomkit xcom …`` work against any Airflow 3 API server (xcomkit,
or Apache Airflow 3.3.x) through the public REST API only: :mod:`.remote` sends the
requests and keeps the tokens, :mod:`.output` prints results, :mod:`.errors` turns every
failure into one line and a documented exit code, :mod:`.xcom` holds the commands.
"""
