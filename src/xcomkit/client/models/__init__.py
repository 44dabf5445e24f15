"""The XCom models of ``airflow_client.client.models``, one module per model, same names."""

from xcomkit.client.models.detail import Detail
from xcomkit.client.models.http_exception_response import HTTPExceptionResponse
from xcomkit.client.models.http_validation_error import HTTPValidationError
from xcomkit.client.models.location_inner import LocationInner
from xcomkit.client.models.response_get_xcom_entry import ResponseGetXcomEntry
from xcomkit.client.models.validation_error import ValidationError
from xcomkit.client.models.x_com_collection_response import XComCollectionResponse
from xcomkit.client.models.x_com_create_body import XComCreateBody
from xcomkit.client.models.x_com_response import XComResponse
from xcomkit.client.models.x_com_response_native import XComResponseNative
from xcomkit.client.models.x_com_response_string import XComResponseString
from xcomkit.client.models.x_com_update_body import XComUpdateBody

__all__ = [
    "Detail",
    "HTTPExceptionResponse",
    "HTTPValidationError",
    "LocationInner",
    "ResponseGetXcomEntry",
    "ValidationError",
    "XComCollectionResponse",
    "XComCreateBody",
    "XComResponse",
    "XComResponseNative",
    "XComResponseString",
    "XComUpdateBody",
]
