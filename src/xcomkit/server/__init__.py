"""The HTTP server: a FastAPI app answering Airflow 3's XCom REST API (see ``create_app``)."""
