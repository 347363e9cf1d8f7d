"""The gateway routes of deploy/ (issue 22), offline: the Kubernetes components (a Gateway API HTTPRoute, an Ingress)
added to every overlay render to valid objects that route the path prefix the api is configured for to the api's
Service; the example Gateway carries the labels the api's NetworkPolicy admits; the compose profile's nginx
config passes `nginx -t` and agrees with the api's settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.crds import PINNED, crd_errors, is_vendored, sha256
from tests.deploy.support import (
    REPO,
    Obj,
    component_names,
    compose,
    compose_env,
    containers_in,
    find,
    gateway_example,
    kind_of,
    name_of,
    one,
    overlay_names,
    render_with_component,
    runtime_image_env,
    settings_from_env,
)
from tests.deploy.test_kubernetes_schemas import CUSTOM_RESOURCES, schema_errors
from tests.support.gateway import NGINX_TEMPLATE, check_nginx_config, render_nginx_template

COMBINATIONS = [(overlay, component) for overlay in overlay_names() for component in component_names()]
ROUTE_KINDS = {"gateway-api": "HTTPRoute", "ingress": "Ingress"}


def errors_of(obj: Obj, objects: list[Obj]) -> list[str]:
    custom = CUSTOM_RESOURCES.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if custom is not None:
        return custom(obj, objects)
    return crd_errors(obj) if is_vendored(obj) else schema_errors(obj)


def api_network_policy(objects: list[Obj]) -> Obj:
    return one(objects, "NetworkPolicy", "jobscheduler-api")


def gateway_peer(policy: Obj) -> Obj:
    """The `from` peer of the api's NetworkPolicy that stands for the gateway."""
    peers: list[Obj] = [
        peer
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
        if "jobscheduler.io/api-gateway" in peer["podSelector"]["matchLabels"]
    ]
    assert len(peers) == 1, peers
    return peers[0]


def test_the_vendored_crds_are_the_pinned_release() -> None:
    for path, expected in PINNED.items():
        assert sha256(path) == expected, f"{path.name} differs from Gateway API v1.6.1 (see the README next to it)"


def test_there_is_a_gateway_api_route_and_an_ingress_alternative() -> None:
    assert set(ROUTE_KINDS) <= set(component_names())


def test_the_crd_check_refuses_unknown_fields_wrong_types_and_bad_metadata() -> None:
    [route] = find(render_with_component("prod", "gateway-api"), "HTTPRoute")
    assert crd_errors(route) == []
    route["spec"]["rules"][0]["backendRefs"][0]["prot"] = 80  # a typo the API server would silently prune
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"  # the Ingress spelling, not HTTPRoute's
    route["metadata"]["labels"]["app.kubernetes.io/name"] = 7
    errors = "\n".join(crd_errors(route))
    assert "'prot' was unexpected" in errors
    assert "'Prefix' is not one of" in errors
    assert "metadata" in errors


@pytest.mark.parametrize(("overlay", "component"), COMBINATIONS)
def test_a_component_added_to_an_overlay_renders_valid_objects(overlay: str, component: str) -> None:
    objects = render_with_component(overlay, component)
    errors = [error for obj in objects for error in errors_of(obj, objects)]
    assert not errors, f"overlays/{overlay} + components/{component}:\n" + "\n".join(errors)
    namespaces = {obj["metadata"].get("namespace") for obj in objects if kind_of(obj) != "Namespace"}
    assert len(namespaces) == 1, f"the route must land in the overlay's namespace: {namespaces}"


@pytest.mark.parametrize(("overlay", "component"), COMBINATIONS)
def test_the_route_sends_the_api_root_path_to_the_api_service(overlay: str, component: str) -> None:
    objects = render_with_component(overlay, component)
    [api] = [c for c in containers_in(objects, f"{overlay}+{component}") if c.role == "api"]
    settings = api.settings()
    assert settings.root_path, "the routes keep the prefix: the api must be told it with SCHEDULER_ROOT_PATH"
    assert settings.forwarded_allow_ips, "the gateway's connections must be trusted to name the client"
    assert "*" not in settings.forwarded_allow_ips
    service = one(objects, "Service", "jobscheduler-api")
    assert service["spec"]["selector"].items() <= api.workload["spec"]["template"]["metadata"]["labels"].items()
    service_ports = {port["port"]: port["name"] for port in service["spec"]["ports"]}

    [route] = find(objects, ROUTE_KINDS[component])
    if kind_of(route) == "HTTPRoute":
        [rule] = route["spec"]["rules"]
        [match] = rule["matches"]
        prefix = match["path"]["value"]
        assert match["path"]["type"] == "PathPrefix"
        assert "filters" not in rule, "no URLRewrite: the api expects the prefix in the path"
        [backend] = rule["backendRefs"]
        assert (backend.get("kind", "Service"), backend["name"]) == ("Service", name_of(service))
        assert backend["port"] in service_ports
    else:
        [ingress_rule] = route["spec"]["rules"]
        [path] = ingress_rule["http"]["paths"]
        prefix = path["path"]
        assert path["pathType"] == "Prefix"
        backend = path["backend"]["service"]
        assert backend["name"] == name_of(service)
        assert backend["port"].get("name") in service_ports.values() or backend["port"].get("number") in service_ports
        assert route["spec"].get("ingressClassName"), "name the ingress controller"
    # The CEL rule of both APIs (a path is absolute) and the api's own syntax for a prefix.
    assert prefix == settings.root_path, f"the route serves {prefix}, the api thinks it is at {settings.root_path}"


@pytest.mark.parametrize("overlay", overlay_names())
def test_the_example_gateway_is_admitted_by_the_api_network_policy_and_accepts_the_route(overlay: str) -> None:
    example = gateway_example()
    errors = [error for obj in example for error in (crd_errors(obj) if is_vendored(obj) else schema_errors(obj))]
    assert not errors, "\n".join(errors)
    namespace = one(example, "Namespace", "gateway-system")
    gateway = one(example, "Gateway", "api-gateway")
    peer = gateway_peer(api_network_policy(render_with_component(overlay, "gateway-api")))
    assert peer["namespaceSelector"]["matchLabels"].items() <= namespace["metadata"]["labels"].items()
    assert peer["podSelector"]["matchLabels"].items() <= gateway["spec"]["infrastructure"]["labels"].items()

    [route] = find(render_with_component(overlay, "gateway-api"), "HTTPRoute")
    [parent] = route["spec"]["parentRefs"]
    assert (parent["namespace"], parent["name"]) == (gateway["metadata"]["namespace"], name_of(gateway))
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    assert parent["sectionName"] in listeners
    if overlay.startswith("prod"):  # the example admits routes from the production namespace
        selector = listeners[parent["sectionName"]]["allowedRoutes"]["namespaces"]["selector"]["matchLabels"]
        assert selector == {"kubernetes.io/metadata.name": route["metadata"]["namespace"]}


# --- docker compose: the gateway profile --------------------------------------------------------------------


def gateway_service() -> Obj:
    services: dict[str, Obj] = compose()["services"]
    gateways = [service for service in services.values() if "gateway" in service.get("profiles", [])]
    assert len(gateways) == 1, "one service in the compose profile `gateway`"
    return gateways[0]


def test_the_compose_gateway_renders_the_shipped_template_and_the_api_trusts_it() -> None:
    gateway = gateway_service()
    assert gateway["image"].startswith("nginx:"), "the official nginx image (its templates/ mechanism)"
    mounts = [str(volume) for volume in gateway["volumes"]]
    assert any(
        mount.split(":")[0] == f"./{NGINX_TEMPLATE.relative_to(REPO)}"
        and mount.split(":")[1].startswith("/etc/nginx/templates/")
        for mount in mounts
    ), mounts
    api = compose()["services"]["api"]
    settings = settings_from_env({**runtime_image_env(), **compose_env(api)})
    address = gateway["networks"]["default"]["ipv4_address"]
    assert settings.forwarded_allow_ips == [address], "the api trusts exactly the gateway's fixed address"
    # The fixed address lies outside the range Docker hands out to the other containers.
    [pool] = compose()["networks"]["default"]["ipam"]["config"]
    assert address.startswith(pool["subnet"].rsplit(".", 2)[0])
    assert int(address.rsplit(".", 1)[1]) < int(pool["ip_range"].split("/")[0].rsplit(".", 1)[1])
    environment = compose_env(gateway)
    host, _, port = environment["API_UPSTREAM"].partition(":")
    assert host == "api"
    assert int(port) == settings.port
    assert settings.root_path is None, "the compose gateway strips the prefix and says it in X-Forwarded-Prefix"


def test_the_compose_gateway_config_passes_nginx_t(tmp_path: Path) -> None:
    environment = compose_env(gateway_service())
    site = render_nginx_template(environment)
    check_nginx_config(tmp_path, site)
    # The healthcheck asks a path this config answers itself, on the port it listens on.
    test = " ".join(gateway_service()["healthcheck"]["test"])
    [url] = re.findall(r"http://127\.0\.0\.1:(\d+)(/\S*)", test)
    assert url[0] == environment["GATEWAY_LISTEN"]
    assert f"location = {url[1]} " in site


def test_the_nginx_template_sends_the_prefix_it_strips_and_overwrites_client_claims() -> None:
    site = NGINX_TEMPLATE.read_text()
    [location] = re.findall(r"location (/\w+)/ \{", site)
    assert f"proxy_set_header X-Forwarded-Prefix {location};" in site
    assert f"~^{location}(?<rest>/.*)$" in site
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site
    assert 'proxy_set_header Forwarded "";' in site


def test_nginx_t_catches_a_broken_config(tmp_path: Path) -> None:
    # The check can fail: a config nginx refuses is reported with nginx's own message.
    with pytest.raises(AssertionError, match="unknown directive"):
        check_nginx_config(tmp_path, "server { listen 127.0.0.1:1; proxy_passs http://127.0.0.1:2; }")
