"""The investigator-auth dependency: a bearer token → the investigator on the current roster.

Tokens come from ``POST /api/v1/auth/token`` (vault.service.auth); an absent, unknown,
expired or revoked token, or one whose investigator left the roster, gets 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from vault.service.auth import TokenError
from vault.service.service import Investigator, VaultService

bearer = HTTPBearer(auto_error=False, description="token from POST /api/v1/auth/token")


async def get_service(request: Request) -> VaultService:
    """The app's service. ``async`` so FastAPI calls it on the event loop: a plain function
    would cost every request a trip to a worker thread for one attribute read."""
    service: VaultService = request.app.state.service
    return service


ServiceDep = Annotated[VaultService, Depends(get_service)]


def current_investigator(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Investigator:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "log in first: bearer token missing",
                       {"WWW-Authenticate": "Bearer"})
    try:
        return service.investigator(credentials.credentials)
    except TokenError as exc:
        raise ApiError(401, str(exc), {"WWW-Authenticate": "Bearer"}) from None


InvestigatorDep = Annotated[Investigator, Depends(current_investigator)]
