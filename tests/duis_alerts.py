"""DUIS alert documents as the DCC sends them to a User, in the shapes of DUIS 5.x that @smartdcc/duis-parser
reads: a device or DCC alert (Header ResponseID, Body/DeviceAlertMessage or DCCAlertMessage) answers no SR;
a future-dated device alert is a Response to the SR the device has now executed (Header RequestID, then
Body/ResponseMessage/FutureDatedDeviceAlertMessage)."""

from __future__ import annotations

from processor.duis.request import NAMESPACE, service_reference
from processor.duis.response import SCHEMA_VERSION, duis_datetime


def _response(header: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><sr:Response xmlns:sr="{NAMESPACE}" schemaVersion="{SCHEMA_VERSION}">'
        f"<sr:Header>{header}</sr:Header><sr:Body>{body}</sr:Body></sr:Response>"
    ).encode()


def device_alert(response_id: str, at_ms: int, alert_code: str = "8F3E") -> bytes:
    header = (
        f"<sr:ResponseID>{response_id}</sr:ResponseID><sr:ResponseCode>I0</sr:ResponseCode>"
        f"<sr:ResponseDateTime>{duis_datetime(at_ms)}</sr:ResponseDateTime>"
    )
    return _response(
        header,
        f"<sr:DeviceAlertMessage><sr:AlertCode>{alert_code}</sr:AlertCode>"
        "<sr:GBCSPayload>3q2+7w==</sr:GBCSPayload></sr:DeviceAlertMessage>",
    )


def future_dated_alert(request_id: str, code: str, variant: str, at_ms: int, alert_code: str = "8F66") -> bytes:
    header = (
        f"<sr:RequestID>{request_id}</sr:RequestID><sr:ResponseCode>{code}</sr:ResponseCode>"
        f"<sr:ResponseDateTime>{duis_datetime(at_ms)}</sr:ResponseDateTime>"
    )
    body = (
        f"<sr:ResponseMessage><sr:ServiceReference>{service_reference(variant)}</sr:ServiceReference>"
        f"<sr:ServiceReferenceVariant>{variant}</sr:ServiceReferenceVariant><sr:FutureDatedDeviceAlertMessage>"
        f"<sr:FutureDatedAlertCode>{alert_code}</sr:FutureDatedAlertCode><sr:GBCSPayload>3q2+7w==</sr:GBCSPayload>"
        "<sr:InstructionNumber>1</sr:InstructionNumber><sr:TotalCommandInstructions>1</sr:TotalCommandInstructions>"
        "</sr:FutureDatedDeviceAlertMessage></sr:ResponseMessage>"
    )
    return _response(header, body)
