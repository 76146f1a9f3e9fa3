"""PREMIS 3 events and agents: the same facts as JSON (in the record) and as PREMIS XML.

Event types come from the Library of Congress preservation vocabulary
(id.loc.gov/vocabulary/preservation/eventType) so that a repository ingesting the
package can map them without guessing: the AI restoration is a *modification*, the
encode to FFV1 a *normalization* (to another codec a *migration*), checksums a
*message digest calculation*, C2PA signing a *digital signature generation*.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from restore.clock import utc_stamp
from restore.provenance.record import write_atomic

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREMIS_XSD = "http://www.loc.gov/standards/premis/v3/premis.xsd"
EVENT_TYPE_AUTHORITY = "eventType"
EVENT_TYPE_URIS = {
    "message digest calculation": "http://id.loc.gov/vocabulary/preservation/eventType/mes",
    "modification": "http://id.loc.gov/vocabulary/preservation/eventType/mod",
    "normalization": "http://id.loc.gov/vocabulary/preservation/eventType/nor",
    "migration": "http://id.loc.gov/vocabulary/preservation/eventType/mig",
    "digital signature generation": "http://id.loc.gov/vocabulary/preservation/eventType/dig",
}
AGENT_ROLE_URI = "http://id.loc.gov/vocabulary/preservation/eventRelatedAgentRole/exe"


now_iso = utc_stamp   # restore.clock


def event(event_type: str, *, detail: str, outcome: str = "success", when: str | None = None,
          agents: list[str] = (), sources: list[str] = (), outcomes: list[str] = (),
          outcome_detail: str | None = None, parameters: dict | None = None) -> dict:
    """One PREMIS event as JSON; agents and objects are referred to by their identifier values."""
    if event_type not in EVENT_TYPE_URIS:
        raise ValueError(f"not a PREMIS event type we map: {event_type}")
    record = {
        "eventIdentifier": {"eventIdentifierType": "UUID", "eventIdentifierValue": str(uuid.uuid4())},
        "eventType": event_type,
        "eventTypeURI": EVENT_TYPE_URIS[event_type],
        "eventDateTime": when or now_iso(),
        "eventDetail": detail,
        "eventOutcome": outcome,
        "linkingAgentIdentifiers": list(agents),
        "linkingObjectIdentifiers": (
            [{"value": s, "role": "source"} for s in sources]
            + [{"value": o, "role": "outcome"} for o in outcomes]),
    }
    if outcome_detail:
        record["eventOutcomeDetail"] = outcome_detail
    if parameters:
        record["parameters"] = parameters
    return record


def agent(identifier: str, name: str, agent_type: str, version: str | None = None,
          note: str | None = None) -> dict:
    record = {"agentIdentifier": identifier, "agentName": name, "agentType": agent_type}
    if version:
        record["agentVersion"] = version
    if note:
        record["agentNote"] = note
    return record


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PREMIS_NS}}}{tag}", {k: v for k, v in attrs.items() if v})
    if text is not None:
        element.text = str(text)
    return element


def _object(root: ET.Element, name: str, sha256: str | None, size: int | None, format_name: str | None) -> None:
    obj = _sub(root, "object", **{f"{{{XSI_NS}}}type": "premis:file"})
    ident = _sub(obj, "objectIdentifier")
    _sub(ident, "objectIdentifierType", "local")
    _sub(ident, "objectIdentifierValue", name)
    chars = _sub(obj, "objectCharacteristics")
    if sha256:
        fixity = _sub(chars, "fixity")
        _sub(fixity, "messageDigestAlgorithm", "SHA-256",
             valueURI="http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions/sha256")
        _sub(fixity, "messageDigest", sha256)
    if size is not None:
        _sub(chars, "size", size)
    fmt = _sub(chars, "format")
    designation = _sub(fmt, "formatDesignation")
    _sub(designation, "formatName", format_name or "unknown")
    storage = _sub(obj, "storage")
    location = _sub(storage, "contentLocation")
    _sub(location, "contentLocationType", "filename")
    _sub(location, "contentLocationValue", name)


def _event_xml(root: ET.Element, ev: dict) -> None:
    element = _sub(root, "event")
    ident = _sub(element, "eventIdentifier")
    _sub(ident, "eventIdentifierType", ev["eventIdentifier"]["eventIdentifierType"])
    _sub(ident, "eventIdentifierValue", ev["eventIdentifier"]["eventIdentifierValue"])
    _sub(element, "eventType", ev["eventType"], authority=EVENT_TYPE_AUTHORITY,
         authorityURI="http://id.loc.gov/vocabulary/preservation/eventType", valueURI=ev["eventTypeURI"])
    _sub(element, "eventDateTime", ev["eventDateTime"])
    detail = _sub(element, "eventDetailInformation")
    _sub(detail, "eventDetail", ev["eventDetail"])
    outcome = _sub(element, "eventOutcomeInformation")
    _sub(outcome, "eventOutcome", ev["eventOutcome"])
    if ev.get("eventOutcomeDetail"):
        _sub(_sub(outcome, "eventOutcomeDetail"), "eventOutcomeDetailNote", ev["eventOutcomeDetail"])
    for agent_id in ev["linkingAgentIdentifiers"]:
        link = _sub(element, "linkingAgentIdentifier")
        _sub(link, "linkingAgentIdentifierType", "local")
        _sub(link, "linkingAgentIdentifierValue", agent_id)
        _sub(link, "linkingAgentRole", "executing program", valueURI=AGENT_ROLE_URI)
    for obj in ev["linkingObjectIdentifiers"]:
        link = _sub(element, "linkingObjectIdentifier")
        _sub(link, "linkingObjectIdentifierType", "local")
        _sub(link, "linkingObjectIdentifierValue", obj["value"])
        _sub(link, "linkingObjectRole", obj["role"])


def _agent_xml(root: ET.Element, ag: dict) -> None:
    element = _sub(root, "agent")
    ident = _sub(element, "agentIdentifier")
    _sub(ident, "agentIdentifierType", "local")
    _sub(ident, "agentIdentifierValue", ag["agentIdentifier"])
    _sub(element, "agentName", ag["agentName"])
    _sub(element, "agentType", ag["agentType"])
    if ag.get("agentVersion"):
        _sub(element, "agentVersion", ag["agentVersion"])
    if ag.get("agentNote"):
        _sub(element, "agentNote", ag["agentNote"])


def premis_xml(objects: list[dict], events: list[dict], agents: list[dict]) -> bytes:
    """A premis:premis document (objects, then events, then agents, the order the schema requires)."""
    ET.register_namespace("premis", PREMIS_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(f"{{{PREMIS_NS}}}premis", {"version": "3.0",
                                                 f"{{{XSI_NS}}}schemaLocation": f"{PREMIS_NS} {PREMIS_XSD}"})
    for obj in objects:
        _object(root, obj["name"], obj.get("sha256"), obj.get("size"), obj.get("format"))
    for ev in events:
        _event_xml(root, ev)
    for ag in agents:
        _agent_xml(root, ag)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_premis_xml(path: Path, objects: list[dict], events: list[dict], agents: list[dict]) -> Path:
    return write_atomic(path, premis_xml(objects, events, agents))
