"""xcomkit's drop-in for the XCom part of ``airflow_client.client`` (Airflow 3.3.2).

Code written against the official client switches by changing only the import::

    import xcomkit.client as client   # was: import airflow_client.client as client

    configuration = client.Configuration(host="http://127.0.0.1:8080", access_token=token)
    with client.ApiClient(configuration) as api_client:
        api = client.XComApi(api_client)
        api.create_xcom_entry("dag", "task", "run", client.XComCreateBody(key="k", value=1))

Module paths mirror the official package: ``xcomkit.client.configuration``,
``.api_client``, ``.api_response``, ``.rest``, ``.exceptions``, ``.api.x_com_api`` and
``.models.<snake_name>``.
"""

from xcomkit.client.api.x_com_api import XComApi
from xcomkit.client.api_client import ApiClient
from xcomkit.client.api_response import ApiResponse
from xcomkit.client.configuration import Configuration
from xcomkit.client.exceptions import (
    ApiAttributeError,
    ApiException,
    ApiKeyError,
    ApiTypeError,
    ApiValueError,
    BadRequestException,
    ConflictException,
    ForbiddenException,
    NotFoundException,
    OpenApiException,
    ServiceException,
    UnauthorizedException,
    UnprocessableEntityException,
)
from xcomkit.client.models import (
    Detail,
    HTTPExceptionResponse,
    HTTPValidationError,
    LocationInner,
    ResponseGetXcomEntry,
    ValidationError,
    XComCollectionResponse,
    XComCreateBody,
    XComResponse,
    XComResponseNative,
    XComResponseString,
    XComUpdateBody,
)

__version__ = "3.3.2"

__all__ = [
    "ApiAttributeError",
    "ApiClient",
    "ApiException",
    "ApiKeyError",
    "ApiResponse",
    "ApiTypeError",
    "ApiValueError",
    "BadRequestException",
    "Configuration",
    "ConflictException",
    "Detail",
    "ForbiddenException",
    "HTTPExceptionResponse",
    "HTTPValidationError",
    "LocationInner",
    "NotFoundException",
    "OpenApiException",
    "ResponseGetXcomEntry",
    "ServiceException",
    "UnauthorizedException",
    "UnprocessableEntityException",
    "ValidationError",
    "XComApi",
    "XComCollectionResponse",
    "XComCreateBody",
    "XComResponse",
    "XComResponseNative",
    "XComResponseString",
    "XComUpdateBody",
]
