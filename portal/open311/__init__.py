"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under /open311/v2/.

render.py   JSON and XML bodies with the spec's element names, errors as [{code, description}]
intake.py   query parameters and POST bodies → typed queries and ReportDrafts
api.py      the handlers and the API's middleware (rate limits, errors never a stack trace nor an
            exception's name, 405 with Allow, 414 for URLs over 8 KB), and the discovery
            document at /open311/discovery.json|xml
openapi.py  the OpenAPI 3.1 document served at /open311/v2/openapi.json
"""
