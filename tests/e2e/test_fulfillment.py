"""The fulfillment service end to end: a seller drives the warehouse like a
peripheral over plain signed HTTP (requests + botocore's SigV4 signer, scope
`execute-api`), the center's staff receives by hand through the warehouse API,
and the built-in simulated center on a fast clock picks, packs, ships and
delivers. Every number is checked against what was sent in."""

import collections
import concurrent.futures
import json
import time

import pytest

from conftest import Server, new_account, nomuck
from fulfillment_client import MARKETPLACE, Fws, inbound_body, order_body
from test_s3_access import Receiver

# The simulated center works 200,000 times faster than real time: four hours of
# pick and pack take 72 ms, a five-day parcel journey about two seconds. Inbound
# transit is set beyond any test's patience so the test's own operator (the admin,
# operator of every center) does the receiving, with exactly the damage it wants.
CONFIG = """
[fulfillment.simulator]
speed = 200000.0
tick_ms = 50

[[fulfillment.centers]]
id = "SIM1"
name = "Simulated center"
simulated = true
capacity_units_per_day = 1000000

[fulfillment.centers.processing]
inbound_transit_hours = 100000000.0
receive_hours = 24.0
pick_pack_hours = 4.0
"""

SKUS = ["MUG-RED", "MUG-BLUE", "TEA+POT"]  # a "+" must stay a "+"
STOCK = 100
FINAL = {"Complete", "CompletePartialled", "Cancelled", "Unfulfillable", "Invalid"}


def start(tmp_path, name="data"):
    config = tmp_path / f"{name}.toml"
    config.write_text(CONFIG)
    return Server(tmp_path / name, ["--config", str(config)]).start()


def seller(srv, name="seller"):
    account_id, key, secret = new_account(srv, name)
    return account_id, Fws(srv.endpoint, key, secret)


def operator(srv):
    return Fws(srv.endpoint, *srv.admin_keys())


def wait_until(what, predicate, timeout=90, every=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def all_pages(fws, path, key):
    """A cursor-paged native list, from the start."""
    out, after = [], 0
    while True:
        page = fws.ok("GET", path, params={"after": after, "limit": 100})[key]
        if not page:
            return out
        out.extend(page)
        after = page[-1]["seq"]


def summaries(fws):
    got = fws.ok("GET", "/fba/inventory/v1/summaries", params={
        "granularityType": "Marketplace", "granularityId": MARKETPLACE,
        "marketplaceIds": MARKETPLACE, "details": "true"})
    return {s["sellerSku"]: s for s in got["payload"]["inventorySummaries"]}


def stock_in(srv, fws, account_id, shipment_id="FBA-IN-1", damaged=None):
    """Registers the SKUs, sends STOCK units of each and has the center receive
    them, `damaged` units of a SKU graded as damaged by the carrier."""
    damaged = damaged or {}
    for sku in SKUS:
        fws.ok("PUT", f"/fws/v1/items/{sku}", {
            "dimensions": {"length": "4", "width": "4", "height": "5", "unitOfMeasurement": "inches"},
            "weight": {"value": "0.5", "unit": "pounds"}})
    created = fws.ok("POST", f"/fba/inbound/v0/shipments/{shipment_id}",
                     inbound_body([(s, STOCK) for s in SKUS]))
    assert created["payload"]["ShipmentId"] == shipment_id
    fws.ok("PUT", f"/fba/inbound/v0/shipments/{shipment_id}",
           inbound_body([(s, STOCK) for s in SKUS], status="SHIPPED"))
    boxes = []
    for n, sku in enumerate(SKUS):
        bad = damaged.get(sku, 0)
        lines = [{"sellerSku": sku, "quantity": STOCK - bad, "condition": "Sellable"}]
        if bad:
            lines.append({"sellerSku": sku, "quantity": bad, "condition": "CarrierDamaged"})
        boxes.append({"boxId": f"{shipment_id}-B{n}", "items": lines})
    operator(srv).ok("POST", "/fws/v1/centers/SIM1/receipts",
                     {"shipmentId": shipment_id, "boxes": boxes, "close": True},
                     params={"sellerId": account_id})
    shipment = fws.ok("GET", "/fba/inbound/v0/shipments", params={
        "QueryType": "SHIPMENT", "MarketplaceId": MARKETPLACE, "ShipmentIdList": shipment_id})
    assert shipment["payload"]["ShipmentData"][0]["ShipmentStatus"] == "CLOSED"


def order_of(fws, order_id):
    return fws.ok("GET", f"/fba/outbound/2020-07-01/fulfillmentOrders/{order_id}")["payload"]


def delivered(fws, order):
    numbers = [p["packageNumber"] for s in order["fulfillmentShipments"]
               for p in s.get("fulfillmentShipmentPackage", [])]
    if not numbers:
        return False
    for n in numbers:
        t = fws.ok("GET", "/fba/outbound/2020-07-01/tracking", params={"packageNumber": n})["payload"]
        if t["currentStatus"] != "DELIVERED":
            return False
    return True


def test_seller_stocks_sells_ships_and_takes_a_return(tmp_path):
    srv = start(tmp_path)
    receiver = Receiver()
    try:
        account_id, fws = seller(srv)
        sns = srv.client("sns", *fws_keys(srv, "seller"))
        sns.create_topic(Name="fulfillment", Attributes={
            "push-endpoint": receiver.url, "nomuck:EventSources": "nomuck.fulfillment"})

        stock_in(srv, fws, account_id, damaged={"MUG-RED": 2})
        inv = summaries(fws)
        assert inv["MUG-RED"]["inventoryDetails"]["fulfillableQuantity"] == STOCK - 2
        unf = inv["MUG-RED"]["inventoryDetails"]["unfulfillableQuantity"]
        assert unf["carrierDamagedQuantity"] == 2 and unf["totalUnfulfillableQuantity"] == 2
        assert inv["TEA+POT"]["inventoryDetails"]["fulfillableQuantity"] == STOCK

        # A preview prices an order before it exists: $1 per order, $0.50 per
        # unit, $0.40 per (whole) pound shipped.
        preview = fws.ok("POST", "/fba/outbound/2020-07-01/fulfillmentOrders/preview", {
            "marketplaceId": MARKETPLACE, "address": order_body("x", [])["destinationAddress"],
            "items": [{"sellerSku": "MUG-BLUE", "sellerFulfillmentOrderItemId": "1", "quantity": 3}],
            "shippingSpeedCategories": ["Standard"]})["payload"]["fulfillmentPreviews"]
        assert preview[0]["isFulfillable"] is True
        fees = {f["name"]: f["amount"]["value"] for f in preview[0]["estimatedFees"]}
        assert float(fees["FBAPerOrderFulfillmentFee"]) == 1.0
        assert float(fees["FBAPerUnitFulfillmentFee"]) == 1.5

        # 20 orders at once; one FillOrKill asks for more than exists.
        orders = {f"ORD-{n:02}": [(SKUS[n % 3], 1 + n % 4)] for n in range(19)}
        orders["ORD-BIG"] = [("MUG-BLUE", 1000)]
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda kv: fws.call(
                "POST", "/fba/outbound/2020-07-01/fulfillmentOrders", order_body(*kv)), orders.items()))
        assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
        # The same create again (a client retrying after a timeout) has no new
        # effect; a different body under the same id is a conflict.
        again = fws.call("POST", "/fba/outbound/2020-07-01/fulfillmentOrders",
                         order_body("ORD-00", orders["ORD-00"]))
        assert again.status_code == 200
        clash = fws.call("POST", "/fba/outbound/2020-07-01/fulfillmentOrders",
                         order_body("ORD-00", [("MUG-RED", 7)]))
        assert clash.status_code == 409 and clash.json()["errors"][0]["details"]

        final = {}
        for order_id in orders:
            final[order_id] = wait_until(f"{order_id} to finish", lambda i=order_id: (
                o if (o := order_of(fws, i))["fulfillmentOrder"]["fulfillmentOrderStatus"] in FINAL
                and (i == "ORD-BIG" or delivered(fws, o)) else None))
        assert final["ORD-BIG"]["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Unfulfillable"
        for order_id, lines in orders.items():
            if order_id != "ORD-BIG":
                assert final[order_id]["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Complete"

        shipped = collections.Counter()
        for order_id, lines in orders.items():
            if order_id != "ORD-BIG":
                for sku, q in lines:
                    shipped[sku] += q
        inv = summaries(fws)
        for sku in SKUS:
            details = inv[sku]["inventoryDetails"]
            damaged = 2 if sku == "MUG-RED" else 0
            assert details["fulfillableQuantity"] == STOCK - damaged - shipped[sku], sku
            assert details["reservedQuantity"]["totalReservedQuantity"] == 0, sku
            assert inv[sku]["totalQuantity"] == STOCK - shipped[sku], sku

        # A customer sends one unit back; the center grades it sellable.
        first = final["ORD-01"]
        shipment_id = first["fulfillmentShipments"][0]["amazonShipmentId"]
        item_id = first["fulfillmentOrderItems"][0]["sellerFulfillmentOrderItemId"]
        sku = orders["ORD-01"][0][0]
        codes = fws.ok("GET", "/fba/outbound/2020-07-01/returnReasonCodes",
                       params={"sellerSku": sku})["payload"]["reasonCodeDetails"]
        ret = fws.ok("PUT", "/fba/outbound/2020-07-01/fulfillmentOrders/ORD-01/return", {
            "items": [{"sellerReturnItemId": "RET-1", "sellerFulfillmentOrderItemId": item_id,
                       "amazonShipmentId": shipment_id, "returnReasonCode": codes[0]["returnReasonCode"]}]})
        assert ret["payload"]["returnItems"][0]["status"] == "New", ret
        before = summaries(fws)[sku]["inventoryDetails"]["fulfillableQuantity"]
        operator(srv).ok("POST", "/fws/v1/centers/SIM1/returns/RET-1/grade", {"condition": "Sellable"},
                         params={"sellerId": account_id})
        assert summaries(fws)[sku]["inventoryDetails"]["fulfillableQuantity"] == before + 1

        # The event stream holds every step, in order, without gaps.
        events = all_pages(fws, "/fws/v1/events", "events")
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        notes = [e["payload"]["FulfillmentOrderStatusNotification"] for e in events
                 if e["eventType"] == "FULFILLMENT_ORDER_STATUS" and e["subject"] == "ORD-05"]
        statuses = [n["FulfillmentOrderStatus"] for n in notes if n["EventType"] == "Order"]
        assert statuses[0] == "Received" and statuses[-1] == "Complete", statuses
        assert statuses.index("Processing") < statuses.index("Complete")
        moved = [m["ledgerSeq"] for e in events if e["eventType"] == "INVENTORY_MOVEMENT"
                 for m in e["payload"]["movements"]]
        assert moved == [e["seq"] for e in all_pages(fws, "/fws/v1/ledger", "entries")]

        # ... and the webhook receiver got each event exactly once, by id.
        def delivered_ids():
            ids = []
            for _, body in receiver.received:
                doc = json.loads(body)
                ids.append(doc["NotificationMetadata"]["NotificationId"] if "NotificationMetadata" in doc
                           else doc["eventId"])
            return ids
        wait_until("every event delivered", lambda: len(delivered_ids()) >= len(events), timeout=60)
        ids = delivered_ids()
        assert sorted(ids) == sorted(e["eventId"] for e in events)
        assert len(set(ids)) == len(ids)
    finally:
        receiver.close()
        srv.stop()


def fws_keys(srv, name):
    """The first access key of account `name`, as (key id, secret) — created anew."""
    key = json.loads(nomuck(srv.data_dir, "key", "create", name, "--json").stdout)
    return key["accessKeyId"], key["secretAccessKey"]


def test_amazons_python_sdk_works_with_only_lwa_tokens(tmp_path):
    """Amazon's own SP-API SDK, unmodified, pointed at nomuck's endpoint and token
    URL: it never signs, it trades a refresh token for access tokens."""
    from spapi import SPAPIClient, SPAPIConfig
    from spapi.api.fba_inventory_v1.fba_inventory_api import FbaInventoryApi
    from spapi.api.fulfillment_inbound_v0.fba_inbound_v0_api import FbaInboundV0Api
    from spapi.api.fulfillment_outbound_v2020_07_01.fba_outbound_api import FbaOutboundApi

    srv = start(tmp_path)
    try:
        account_id, fws = seller(srv)
        lwa = json.loads(nomuck(srv.data_dir, "lwa", "create", "seller", "--json").stdout)
        config = SPAPIConfig(client_id=lwa["clientId"], client_secret=lwa["clientSecret"],
                             refresh_token=lwa["refreshToken"], region="NA")
        client = SPAPIClient(config, oauth_endpoint=f"{srv.endpoint}/auth/o2/token", endpoint=srv.endpoint)
        api = client.api_client

        # Items and inbound creation are not in the SDK's current models; its
        # generic call path sends them with the same LWA token.
        for sku in SKUS:
            api.call_api(f"/fws/v1/items/{sku}", "PUT", body={}, response_type="object",
                         header_params={"Content-Type": "application/json"})
        api.call_api("/fba/inbound/v0/shipments/SDK-IN", "POST",
                     body=inbound_body([(s, STOCK) for s in SKUS]), response_type="object",
                     header_params={"Content-Type": "application/json"})
        api.call_api("/fba/inbound/v0/shipments/SDK-IN", "PUT",
                     body=inbound_body([(s, STOCK) for s in SKUS], status="SHIPPED"),
                     response_type="object", header_params={"Content-Type": "application/json"})
        operator(srv).ok("POST", "/fws/v1/centers/SIM1/receipts", {
            "shipmentId": "SDK-IN", "close": True,
            "boxes": [{"boxId": f"B-{s}", "items": [{"sellerSku": s, "quantity": STOCK, "condition": "Sellable"}]}
                      for s in SKUS]}, params={"sellerId": account_id})

        inbound = FbaInboundV0Api(api)
        got = inbound.get_shipments(query_type="SHIPMENT", marketplace_id=MARKETPLACE,
                                    shipment_id_list=["SDK-IN"])
        assert got.payload.shipment_data[0].shipment_status == "CLOSED"
        items = inbound.get_shipment_items_by_shipment_id("SDK-IN", marketplace_id=MARKETPLACE)
        assert sorted(i.seller_sku for i in items.payload.item_data) == sorted(SKUS)

        inventory = FbaInventoryApi(api).get_inventory_summaries(
            granularity_type="Marketplace", granularity_id=MARKETPLACE, marketplace_ids=[MARKETPLACE],
            details=True)
        by_sku = {s.seller_sku: s for s in inventory.payload.inventory_summaries}
        assert by_sku["MUG-RED"].inventory_details.fulfillable_quantity == STOCK

        outbound = FbaOutboundApi(api)
        preview = outbound.get_fulfillment_preview({
            "marketplaceId": MARKETPLACE, "address": order_body("x", [])["destinationAddress"],
            "items": [{"sellerSku": "MUG-RED", "sellerFulfillmentOrderItemId": "1", "quantity": 2}]})
        assert any(p.is_fulfillable for p in preview.payload.fulfillment_previews)
        outbound.create_fulfillment_order(order_body("SDK-1", [("MUG-RED", 2), ("TEA+POT", 1)]))
        order = wait_until("SDK-1 delivered", lambda: (
            o if (o := outbound.get_fulfillment_order("SDK-1").payload)
            .fulfillment_order.fulfillment_order_status == "Complete"
            and all(outbound.get_package_tracking_details(p.package_number).payload.current_status == "DELIVERED"
                    for s in o.fulfillment_shipments for p in (s.fulfillment_shipment_package or []))
            else None))
        assert order.fulfillment_order.seller_fulfillment_order_id == "SDK-1"
        listed = outbound.list_all_fulfillment_orders()
        assert [o.seller_fulfillment_order_id for o in listed.payload.fulfillment_orders] == ["SDK-1"]
        codes = outbound.list_return_reason_codes("MUG-RED")
        assert codes.payload.reason_code_details
        # Held, so the fast simulator cannot take it into processing before the cancel.
        outbound.create_fulfillment_order({**order_body("SDK-2", [("MUG-BLUE", 1)]), "fulfillmentAction": "Hold"})
        outbound.cancel_fulfillment_order("SDK-2")
        assert outbound.get_fulfillment_order("SDK-2").payload.fulfillment_order.fulfillment_order_status \
            == "Cancelled"

        # A revoked client's tokens stop working.
        nomuck(srv.data_dir, "lwa", "revoke", lwa["clientId"])
        import requests
        token = client.access_token_cache.get_lwa_access_token()
        r = requests.get(f"{srv.endpoint}/fws/v1/centers", headers={"x-amz-access-token": token}, timeout=10)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "Unauthorized"
    finally:
        srv.stop()


def test_kill_9_mid_flow_loses_nothing(tmp_path):
    srv = start(tmp_path)
    account_id, fws = seller(srv)
    stock_in(srv, fws, account_id)
    ids = [f"K-{n:02}" for n in range(30)]
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        created = list(pool.map(lambda i: fws.call(
            "POST", "/fba/outbound/2020-07-01/fulfillmentOrders",
            order_body(i, [(SKUS[hash(i) % 3], 2)])), ids))
    assert all(r.status_code == 200 for r in created)
    # Let some of them move, then pull the plug.
    wait_until("an order to ship", lambda: any(
        order_of(fws, i)["fulfillmentShipments"] for i in ids), timeout=60, every=0.05)
    events_before = all_pages(fws, "/fws/v1/events", "events")
    srv.kill9()
    srv.start()
    fws = Fws(srv.endpoint, fws.credentials.access_key, fws.credentials.secret_key)
    for i in ids:
        wait_until(f"{i} to complete", lambda i=i: order_of(fws, i)["fulfillmentOrder"]
                   ["fulfillmentOrderStatus"] == "Complete" and delivered(fws, order_of(fws, i)))
    events = all_pages(fws, "/fws/v1/events", "events")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["eventId"] for e in events}) == len(events)
    # What was acknowledged before the kill is unchanged after it.
    assert events[:len(events_before)] == events_before
    # The ledger folds to exactly the summaries.
    folded = collections.defaultdict(collections.Counter)
    for e in all_pages(fws, "/fws/v1/ledger", "entries"):
        if e.get("fromBucket"):
            folded[e["sellerSku"]][e["fromBucket"]] -= e["quantity"]
        if e.get("toBucket"):
            folded[e["sellerSku"]][e["toBucket"]] += e["quantity"]
    inv = summaries(fws)
    for sku in SKUS:
        assert folded[sku]["FULFILLABLE"] == inv[sku]["inventoryDetails"]["fulfillableQuantity"]
        assert all(v >= 0 for v in folded[sku].values())
        assert sum(folded[sku].values()) == inv[sku]["totalQuantity"]
    srv.stop()


def test_bad_input_is_refused_in_sp_api_shape_and_changes_nothing(tmp_path):
    srv = start(tmp_path)
    try:
        account_id, fws = seller(srv)
        _, other = seller(srv, "other")
        stock_in(srv, fws, account_id)
        path = "/fba/outbound/2020-07-01/fulfillmentOrders"
        cases = {
            "malformed json": fws.call("POST", path, raw="{not json"),
            "wrong type": fws.call("POST", path, {**order_body("B-1", [("MUG-RED", 1)]), "items": "many"}),
            "missing field": fws.call("POST", path, {k: v for k, v in order_body("B-2", [("MUG-RED", 1)]).items()
                                                     if k != "destinationAddress"}),
            "zero quantity": fws.call("POST", path, order_body("B-3", [("MUG-RED", 0)])),
            "beyond i32": fws.call("POST", path, order_body("B-4", [("MUG-RED", 2**31)])),
            "id too long": fws.call("POST", path, order_body("B" * 41, [("MUG-RED", 1)])),
            "sku too long": fws.call("PUT", "/fws/v1/items/" + "S" * 41, {}),
            "unknown sku": fws.call("POST", path, order_body("B-5", [("NO-SUCH", 1)])),
        }
        for name, r in cases.items():
            assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
            body = r.json()
            assert body["errors"][0]["code"] and body["errors"][0]["details"], (name, body)
            assert r.headers.get("x-amzn-RequestId"), name
        listed = fws.ok("GET", path)["payload"]["fulfillmentOrders"]
        assert listed == []
        assert summaries(fws)["MUG-RED"]["inventoryDetails"]["fulfillableQuantity"] == STOCK

        # Another account sees none of it and can touch none of it.
        fws.ok("POST", path, order_body("MINE-1", [("MUG-RED", 1)]))
        assert other.call("GET", f"{path}/MINE-1").status_code == 404
        assert other.call("PUT", f"{path}/MINE-1/cancel").status_code == 404
        assert other.ok("GET", path)["payload"]["fulfillmentOrders"] == []
        assert other.ok("GET", "/fws/v1/events", params={"after": 0})["events"] == []
        assert other.ok("GET", "/fws/v1/items")["items"] == []
        # A seller's keys never drive a center.
        r = other.call("POST", "/fws/v1/centers/SIM1/receipts", {"shipmentId": "FBA-IN-1", "boxes": []},
                       params={"sellerId": account_id})
        assert r.status_code == 403
        # Unsigned and anonymous requests are refused in SP-API's shape, never
        # answered by S3 whatever the Host header says.
        import requests
        r = requests.get(f"{srv.endpoint}/fws/v1/centers", headers={"Host": "bucket.localhost"}, timeout=10)
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "Unauthorized"
        centers = fws.ok("GET", "/fws/v1/centers")["centers"]
        assert [c["centerId"] for c in centers] == ["SIM1"]
    finally:
        srv.stop()


def test_center_staff_at_the_command_line(tmp_path):
    """`nomuck center …` drives the running server's warehouse API as the admin."""
    srv = start(tmp_path)
    try:
        account_id, fws = seller(srv)
        centers = json.loads(nomuck(srv.data_dir, "center", "list").stdout)["centers"]
        assert [c["centerId"] for c in centers] == ["SIM1"]
        fws.ok("PUT", "/fws/v1/items/MUG-RED", {})
        fws.ok("POST", "/fba/inbound/v0/shipments/CLI-1", inbound_body([("MUG-RED", 6)]))
        fws.ok("PUT", "/fba/inbound/v0/shipments/CLI-1", inbound_body([("MUG-RED", 6)], status="SHIPPED"))
        work = json.loads(nomuck(srv.data_dir, "center", "work", "SIM1").stdout)
        assert "CLI-1" in json.dumps(work)
        nomuck(srv.data_dir, "center", "receive", "SIM1", "--seller", account_id, "--shipment", "CLI-1",
               "--box", "B1", "--sku", "MUG-RED", "--quantity", "5", "--close")
        details = summaries(fws)["MUG-RED"]["inventoryDetails"]
        assert details["fulfillableQuantity"] == 5  # one unit short, written off at close
        refused = nomuck(srv.data_dir, "center", "call", "NOPE", "GET", "work", check=False)
        assert refused.returncode != 0 and "404" in refused.stderr
    finally:
        srv.stop()


def test_a_flood_gets_quota_exceeded_with_the_limit(tmp_path):
    config = tmp_path / "limited.toml"
    config.write_text("[fulfillment]\nrate_limit_per_second = 5.0\n")
    srv = Server(tmp_path / "data", ["--config", str(config)]).start()
    try:
        _, fws = seller(srv)
        _, other = seller(srv, "other")
        codes = [fws.call("GET", "/fws/v1/centers") for _ in range(40)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and len(limited) < 40
        assert limited[0].json()["errors"][0]["code"] == "QuotaExceeded"
        assert limited[0].headers["x-amzn-RateLimit-Limit"] == "5"
        # Each account has its own allowance.
        assert other.call("GET", "/fws/v1/centers").status_code == 200
    finally:
        srv.stop()
