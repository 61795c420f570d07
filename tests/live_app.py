"""The WSGI app of the browser tests: ``integration.wsgi``'s app plus the test sign-in (``tests/sign_in.py``).

``LiveServer(..., test_sign_in=True)`` runs gunicorn on ``tests.live_app:app``; everything else runs the
Procfile's ``integration.wsgi:app``, which never has a test route.
"""

from integration import create_app
from tests.sign_in import mount

app = mount(create_app())
