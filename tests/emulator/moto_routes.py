"""Mounts a control app of the patched moto server (the `/_lifecycle/`, `/_iam/` endpoints) on
a path prefix of moto's WSGI dispatcher."""

from typing import Any, Callable


def mount(prefix: str, app: Callable[[dict[str, Any], Any], Any]) -> None:
    """Requests whose path starts with `prefix` go to `app`; the rest to moto as before."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith(prefix):
            return app(environ, start_response)
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
