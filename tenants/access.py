"""View helpers that turn the scoping API into page access."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .selectors import may


def requires(action: str):
    """Allow a view only to users who may perform ``action`` in at least one department."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not may(user=request.user, action=action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
