"""The inbound edge: verify a delivery, store it, answer. Nothing else happens here.

Processing is the workers' business (``jobs/``); handing stored rows to them is the relay's
(``integration.events.dispatch``). Keeping the request path to verify + one insert is what lets us answer
within the platforms' deadlines while promising, with every 2xx, that the event is safe.
"""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from webhooks import bigcommerce, shopify  # noqa: E402,F401 - registers the routes on bp
