"""The amanat HTTP API: a thin FastAPI skin over ``vault.service``.

``api.app.create_app(settings)`` builds the application; routers are split by audience
(``routes.witness``, ``routes.investigator``, ``routes.log``). Nothing here stores or logs
anything that could identify a witness: no addresses, user agents, referrers or precise
times (see api/app.py).
"""
