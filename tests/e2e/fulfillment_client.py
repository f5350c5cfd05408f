"""A plain HTTP client for nomuck's fulfillment API: `requests` with botocore's
SigV4 signer (credential scope service `execute-api`), as any AWS signer would
sign an SP-API request."""

import json
import urllib.parse

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
MARKETPLACE = "ATVPDKIKX0DER"


class Fws:
    def __init__(self, endpoint, key_id, secret):
        self.endpoint = endpoint
        self.credentials = Credentials(key_id, secret)
        self.session = requests.Session()

    def call(self, method, path, body=None, params=None, raw=None):
        url = self.endpoint + path
        if params:
            url += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {"content-type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, "execute-api", REGION).add_auth(request)
        return self.session.request(method, url, data=data, headers=dict(request.headers), timeout=30)

    def ok(self, method, path, body=None, params=None):
        r = self.call(method, path, body, params)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        assert r.headers.get("x-amzn-RequestId")
        return r.json()


def order_body(order_id, lines, policy="FillOrKill", speed="Standard"):
    return {
        "marketplaceId": MARKETPLACE,
        "sellerFulfillmentOrderId": order_id,
        "displayableOrderId": order_id,
        "displayableOrderDate": "2026-12-03T10:00:00Z",
        "displayableOrderComment": "Thank you for your order",
        "shippingSpeedCategory": speed,
        "fulfillmentPolicy": policy,
        "destinationAddress": {
            "name": "Ada Lovelace", "addressLine1": "12 Analytical St", "city": "Seattle",
            "stateOrRegion": "WA", "postalCode": "98101", "countryCode": "US",
        },
        "items": [
            {"sellerSku": sku, "sellerFulfillmentOrderItemId": f"{order_id}-{i}", "quantity": q}
            for i, (sku, q) in enumerate(lines)
        ],
    }


def inbound_body(skus_quantities, status="WORKING"):
    return {
        "MarketplaceId": MARKETPLACE,
        "InboundShipmentHeader": {
            "ShipmentName": "first stock",
            "ShipFromAddress": {
                "Name": "Seller warehouse", "AddressLine1": "1 Supply Rd", "City": "Portland",
                "StateOrProvinceCode": "OR", "CountryCode": "US", "PostalCode": "97201",
            },
            "DestinationFulfillmentCenterId": "SIM1",
            "ShipmentStatus": status,
            "LabelPrepPreference": "SELLER_LABEL",
        },
        "InboundShipmentItems": [
            {"SellerSKU": sku, "QuantityShipped": q} for sku, q in skus_quantities
        ],
    }
