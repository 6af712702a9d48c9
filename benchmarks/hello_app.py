# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The smallest WSGI app: what --http costs per request shows at its largest."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
