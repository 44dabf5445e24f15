"""xcomkit: Apache Airflow 3's XCom REST API, standalone.

Three faces over one core: a FastAPI server (``xcomkit.server``), a drop-in for
``airflow_client.client`` (``xcomkit.client``) and a CLI (``xcomkit``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
