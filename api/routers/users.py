"""Who am I, and (admin) who are the users. Users are created with `zhaoshang users create`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from adapters.users import UserStore
from api.auth import Permission, Principal
from api.deps import current_user, get_users, require

router = APIRouter(prefix="/users", tags=["users"])


class UserOut(BaseModel):
    """A user (never its token)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c0a8012e-7f4b-4d3a-9e21-5b6c7d8e9f01",
                    "name": "liu.liaison",
                    "role": "liaison",
                    "association_id": "3f1c2b9e-5d7a-4c1e-9a8b-2d4f6e8a0b1c",
                    "permissions": ["own_activities", "read_own", "refer_own_project"],
                    "created_at": "2024-03-14T02:00:00Z",
                }
            ]
        }
    )

    id: str
    name: str
    role: str
    association_id: str | None
    permissions: list[str]
    created_at: datetime | None

    @classmethod
    def of(cls, user: Principal) -> UserOut:
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            association_id=user.association_id,
            permissions=sorted(p.value for p in user.permissions),
            created_at=user.created_at,
        )


@router.get("/me", response_model=UserOut, summary="The user the token belongs to")
def me(user: Annotated[Principal, Depends(current_user)]) -> UserOut:
    return UserOut.of(user)


@router.get("", response_model=list[UserOut], summary="Every user (admin)")
def list_users(
    user: Annotated[Principal, Depends(require(Permission.USERS))],
    users: Annotated[UserStore, Depends(get_users)],
) -> list[UserOut]:
    return [UserOut.of(u) for u in users.list()]
