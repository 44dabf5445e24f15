"""One APIRouter per HTTP resource."""
