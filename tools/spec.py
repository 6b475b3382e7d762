"""The single source of truth for the OCPP 1.6-J messages of this project.

Everything in ``ocpp16/schemas/*.json``, ``ocpp16/schemas/__init__.py`` and
``ocpp16/types/__init__.py`` is generated from the data in this module by
``tools/generate.py``; edit this file, then run ``python tools/generate.py``.

The facts come from:

* OCPP 1.6 edition 2 (2017-09-28, all errata up to v3 merged) and the OCPP 1.6
  errata v4, cited as "OCPP 1.6 §<section>" (chapter 6 Messages, chapter 7 Types);
* the OCA white paper "Improved security for OCPP 1.6-J", edition 2
  (2020-03-31), cited as "Security WP §<section>" (chapter 5 Messages) or by the
  name of its datatype or enumeration.

The shape is ours: a handful of field types (``String``, ``Integer``,
``Number``, ``Boolean``, ``DateTime``, ``AnyUri``, ``ListOf``), enumerations
(``EnumType``) and classes (``Datatype``) each defined once as a module-level
constant, and the 39 actions (``ACTIONS``) whose request and response fields
refer to them. Every list whose cardinality is ``1..*`` in the spec carries
``min_items=1``; ``0..*`` lists carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "ACTIONS",
    "DATATYPES",
    "ENUMS",
    "Action",
    "AnyUri",
    "Boolean",
    "Datatype",
    "DateTime",
    "Direction",
    "EnumType",
    "Field",
    "FieldType",
    "Integer",
    "ListOf",
    "Message",
    "Number",
    "Profile",
    "String",
]

Direction: TypeAlias = Literal["cp_to_cs", "cs_to_cp", "both"]
Profile: TypeAlias = Literal[
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
    "Security",
]


# --------------------------------------------------------------------------------------
# The vocabulary
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class String:
    """A string, optionally bounded (``CiString[n]`` and ``string[0..n]`` in the spec)."""

    max_length: int | None = None


@dataclass(frozen=True)
class Integer:
    """An integer (JSON numbers without a fraction; draft-04 refuses ``300.0``)."""


@dataclass(frozen=True)
class Number:
    """A decimal number, optionally restricted to a multiple of ``multiple_of``."""

    multiple_of: float | None = None


@dataclass(frozen=True)
class Boolean:
    """``true`` or ``false``."""


@dataclass(frozen=True)
class DateTime:
    """An RFC 3339 date-time string (OCPP 1.6 §3.15 Time notations)."""


@dataclass(frozen=True)
class AnyUri:
    """A URI string (``anyURI`` in the spec)."""


@dataclass(frozen=True)
class EnumType:
    """A named enumeration: a string restricted to ``values``."""

    name: str
    source: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """One field of a message or class: its camelCase name, type and cardinality."""

    name: str
    type: FieldType
    required: bool


@dataclass(frozen=True)
class Datatype:
    """A named class (an object type shared between messages)."""

    name: str
    source: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class ListOf:
    """A list of ``item``; ``min_items=1`` for the spec's ``1..*``."""

    item: String | Integer | Number | Boolean | DateTime | AnyUri | EnumType | Datatype
    min_items: int | None = None


FieldType: TypeAlias = (
    String | Integer | Number | Boolean | DateTime | AnyUri | EnumType | Datatype | ListOf
)


@dataclass(frozen=True)
class Message:
    """The payload of one PDU (``X.req`` or ``X.conf``) and where the spec defines it."""

    source: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Action:
    """An OCPP action: who sends its request, its feature profile and its two PDUs."""

    name: str
    direction: Direction
    profile: Profile
    request: Message
    response: Message


def req(name: str, type_: FieldType) -> Field:
    """A required field (cardinality ``1..1`` or ``1..*``)."""
    return Field(name, type_, True)


def opt(name: str, type_: FieldType) -> Field:
    """An optional field (cardinality ``0..1`` or ``0..*``)."""
    return Field(name, type_, False)


def enum(name: str, source: str, *values: str) -> EnumType:
    """An enumeration, values in the order of the spec's table."""
    return EnumType(name, source, values)


def datatype(name: str, source: str, *fields: Field) -> Datatype:
    """A class, fields in the order of the spec's table."""
    return Datatype(name, source, fields)


def msg(source: str, *fields: Field) -> Message:
    """A PDU payload, fields in the order of the spec's table."""
    return Message(source, fields)


# --------------------------------------------------------------------------------------
# Primitive types
# --------------------------------------------------------------------------------------

CI_STRING_20 = String(20)  # OCPP 1.6 §7.15 CiString20Type
CI_STRING_25 = String(25)  # OCPP 1.6 §7.16 CiString25Type
CI_STRING_50 = String(50)  # OCPP 1.6 §7.17 CiString50Type
CI_STRING_255 = String(255)  # OCPP 1.6 §7.18 CiString255Type
CI_STRING_500 = String(500)  # OCPP 1.6 §7.19 CiString500Type
ID_TOKEN = CI_STRING_20  # OCPP 1.6 §7.28 IdToken: a CiString20Type
TEXT = String()  # "String"/"Text" in the spec: no length limit
INTEGER = Integer()
BOOLEAN = Boolean()
DATE_TIME = DateTime()
ANY_URI = AnyUri()
# OCPP 1.6 §7.13/§7.14: decimals that "accept at most one digit fraction (e.g. 8.1)".
DECIMAL_ONE_DIGIT = Number(multiple_of=0.1)


# --------------------------------------------------------------------------------------
# OCPP 1.6 enumerations (§7), alphabetical as in the spec
# --------------------------------------------------------------------------------------

AUTHORIZATION_STATUS = enum(
    "AuthorizationStatus",
    "OCPP 1.6 §7.2",
    "Accepted",
    "Blocked",
    "Expired",
    "Invalid",
    "ConcurrentTx",
)
AVAILABILITY_STATUS = enum(
    "AvailabilityStatus", "OCPP 1.6 §7.3", "Accepted", "Rejected", "Scheduled"
)
AVAILABILITY_TYPE = enum("AvailabilityType", "OCPP 1.6 §7.4", "Inoperative", "Operative")
CANCEL_RESERVATION_STATUS = enum("CancelReservationStatus", "OCPP 1.6 §7.5", "Accepted", "Rejected")
CHARGE_POINT_ERROR_CODE = enum(
    "ChargePointErrorCode",
    "OCPP 1.6 §7.6",
    "ConnectorLockFailure",
    "EVCommunicationError",
    "GroundFailure",
    "HighTemperature",
    "InternalError",
    "LocalListConflict",
    "NoError",
    "OtherError",
    "OverCurrentFailure",
    "OverVoltage",
    "PowerMeterFailure",
    "PowerSwitchFailure",
    "ReaderFailure",
    "ResetFailure",
    "UnderVoltage",
    "WeakSignal",
)
CHARGE_POINT_STATUS = enum(
    "ChargePointStatus",
    "OCPP 1.6 §7.7",
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
CHARGING_PROFILE_KIND_TYPE = enum(
    "ChargingProfileKindType", "OCPP 1.6 §7.9", "Absolute", "Recurring", "Relative"
)
CHARGING_PROFILE_PURPOSE_TYPE = enum(
    "ChargingProfilePurposeType",
    "OCPP 1.6 §7.10",
    "ChargePointMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
)
CHARGING_PROFILE_STATUS = enum(
    "ChargingProfileStatus", "OCPP 1.6 §7.11", "Accepted", "Rejected", "NotSupported"
)
CHARGING_RATE_UNIT_TYPE = enum("ChargingRateUnitType", "OCPP 1.6 §7.12", "W", "A")
CLEAR_CACHE_STATUS = enum("ClearCacheStatus", "OCPP 1.6 §7.20", "Accepted", "Rejected")
CLEAR_CHARGING_PROFILE_STATUS = enum(
    "ClearChargingProfileStatus", "OCPP 1.6 §7.21", "Accepted", "Unknown"
)
CONFIGURATION_STATUS = enum(
    "ConfigurationStatus",
    "OCPP 1.6 §7.22",
    "Accepted",
    "Rejected",
    "RebootRequired",
    "NotSupported",
)
DATA_TRANSFER_STATUS = enum(
    "DataTransferStatus",
    "OCPP 1.6 §7.23",
    "Accepted",
    "Rejected",
    "UnknownMessageId",
    "UnknownVendorId",
)
DIAGNOSTICS_STATUS = enum(
    "DiagnosticsStatus", "OCPP 1.6 §7.24", "Idle", "Uploaded", "UploadFailed", "Uploading"
)
FIRMWARE_STATUS = enum(
    "FirmwareStatus",
    "OCPP 1.6 §7.25",
    "Downloaded",
    "DownloadFailed",
    "Downloading",
    "Idle",
    "InstallationFailed",
    "Installing",
    "Installed",
)
GET_COMPOSITE_SCHEDULE_STATUS = enum(
    "GetCompositeScheduleStatus", "OCPP 1.6 §7.26", "Accepted", "Rejected"
)
LOCATION = enum("Location", "OCPP 1.6 §7.30", "Body", "Cable", "EV", "Inlet", "Outlet")
MEASURAND = enum(
    "Measurand",
    "OCPP 1.6 §7.31",
    "Current.Export",
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval",
    "Frequency",
    "Power.Active.Export",
    "Power.Active.Import",
    "Power.Factor",
    "Power.Offered",
    "Power.Reactive.Export",
    "Power.Reactive.Import",
    "RPM",
    "SoC",
    "Temperature",
    "Voltage",
)
MESSAGE_TRIGGER = enum(
    "MessageTrigger",
    "OCPP 1.6 §7.32",
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)
PHASE = enum(
    "Phase",
    "OCPP 1.6 §7.34",
    "L1",
    "L2",
    "L3",
    "N",
    "L1-N",
    "L2-N",
    "L3-N",
    "L1-L2",
    "L2-L3",
    "L3-L1",
)
READING_CONTEXT = enum(
    "ReadingContext",
    "OCPP 1.6 §7.35",
    "Interruption.Begin",
    "Interruption.End",
    "Other",
    "Sample.Clock",
    "Sample.Periodic",
    "Transaction.Begin",
    "Transaction.End",
    "Trigger",
)
REASON = enum(
    "Reason",
    "OCPP 1.6 §7.36",
    "DeAuthorized",
    "EmergencyStop",
    "EVDisconnected",
    "HardReset",
    "Local",
    "Other",
    "PowerLoss",
    "Reboot",
    "Remote",
    "SoftReset",
    "UnlockCommand",
)
RECURRENCY_KIND_TYPE = enum("RecurrencyKindType", "OCPP 1.6 §7.37", "Daily", "Weekly")
REGISTRATION_STATUS = enum(
    "RegistrationStatus", "OCPP 1.6 §7.38", "Accepted", "Pending", "Rejected"
)
REMOTE_START_STOP_STATUS = enum("RemoteStartStopStatus", "OCPP 1.6 §7.39", "Accepted", "Rejected")
RESERVATION_STATUS = enum(
    "ReservationStatus",
    "OCPP 1.6 §7.40",
    "Accepted",
    "Faulted",
    "Occupied",
    "Rejected",
    "Unavailable",
)
RESET_STATUS = enum("ResetStatus", "OCPP 1.6 §7.41", "Accepted", "Rejected")
RESET_TYPE = enum("ResetType", "OCPP 1.6 §7.42", "Hard", "Soft")
TRIGGER_MESSAGE_STATUS = enum(
    "TriggerMessageStatus", "OCPP 1.6 §7.44", "Accepted", "Rejected", "NotImplemented"
)
# OCPP 1.6 §7.45 UnitOfMeasure, one enumeration for every SampledValue (MeterValues.req
# and StopTransaction.req alike), amended as follows:
# - "Hertz": OCPP 1.6 §7.31 makes Hertz the unit of the Frequency measurand, and the
#   errata (v4) / the OCA's 1.6 JSON schema for MeterValues add it to the enumeration;
#   it is not limited to MeterValues, since the same SampledValue class is used in both.
# - "Celcius": the misspelling in the OCA's original 1.6 JSON schemas, which deployed
#   charge points send; kept next to the spec's "Celsius" for compatibility.
UNIT_OF_MEASURE = enum(
    "UnitOfMeasure",
    "OCPP 1.6 §7.45",
    "Wh",
    "kWh",
    "varh",
    "kvarh",
    "W",
    "kW",
    "VA",
    "kVA",
    "var",
    "kvar",
    "A",
    "V",
    "Celsius",
    "Celcius",
    "Fahrenheit",
    "K",
    "Percent",
    "Hertz",
)
UNLOCK_STATUS = enum("UnlockStatus", "OCPP 1.6 §7.46", "Unlocked", "UnlockFailed", "NotSupported")
UPDATE_STATUS = enum(
    "UpdateStatus",
    "OCPP 1.6 §7.47",
    "Accepted",
    "Failed",
    "NotSupported",
    "VersionMismatch",
)
UPDATE_TYPE = enum("UpdateType", "OCPP 1.6 §7.48", "Differential", "Full")
VALUE_FORMAT = enum("ValueFormat", "OCPP 1.6 §7.49", "Raw", "SignedData")


# --------------------------------------------------------------------------------------
# Security white paper enumerations. Named as the white paper names them, without the
# "EnumType" suffix, except the three whose short name is taken by a different 1.6
# enumeration (FirmwareStatus, MessageTrigger, TriggerMessageStatus): those keep their
# full white-paper name.
# --------------------------------------------------------------------------------------

CERTIFICATE_SIGNED_STATUS = enum(
    "CertificateSignedStatus", "Security WP CertificateSignedStatusEnumType", "Accepted", "Rejected"
)
CERTIFICATE_USE = enum(
    "CertificateUse",
    "Security WP CertificateUseEnumType",
    "CentralSystemRootCertificate",
    "ManufacturerRootCertificate",
)
DELETE_CERTIFICATE_STATUS = enum(
    "DeleteCertificateStatus",
    "Security WP DeleteCertificateStatusEnumType",
    "Accepted",
    "Failed",
    "NotFound",
)
# Security WP FirmwareStatusEnumType: a superset of OCPP 1.6 §7.25 FirmwareStatus,
# used only by SignedFirmwareStatusNotification.req.
FIRMWARE_STATUS_ENUM_TYPE = enum(
    "FirmwareStatusEnumType",
    "Security WP FirmwareStatusEnumType",
    "Downloaded",
    "DownloadFailed",
    "Downloading",
    "DownloadScheduled",
    "DownloadPaused",
    "Idle",
    "InstallationFailed",
    "Installing",
    "Installed",
    "InstallRebooting",
    "InstallScheduled",
    "InstallVerificationFailed",
    "InvalidSignature",
    "SignatureVerified",
)
GENERIC_STATUS = enum("GenericStatus", "Security WP GenericStatusEnumType", "Accepted", "Rejected")
GET_INSTALLED_CERTIFICATE_STATUS = enum(
    "GetInstalledCertificateStatus",
    "Security WP GetInstalledCertificateStatusEnumType",
    "Accepted",
    "NotFound",
)
HASH_ALGORITHM = enum(
    "HashAlgorithm", "Security WP HashAlgorithmEnumType", "SHA256", "SHA384", "SHA512"
)
INSTALL_CERTIFICATE_STATUS = enum(
    "InstallCertificateStatus",
    "Security WP InstallCertificateStatusEnumType",
    "Accepted",
    "Failed",
    "Rejected",
)
LOG = enum("Log", "Security WP LogEnumType", "DiagnosticsLog", "SecurityLog")
LOG_STATUS = enum(
    "LogStatus", "Security WP LogStatusEnumType", "Accepted", "Rejected", "AcceptedCanceled"
)
# Security WP MessageTriggerEnumType: used only by ExtendedTriggerMessage.req; differs from
# OCPP 1.6 §7.32 MessageTrigger (LogStatusNotification and SignChargePointCertificate in,
# DiagnosticsStatusNotification out).
MESSAGE_TRIGGER_ENUM_TYPE = enum(
    "MessageTriggerEnumType",
    "Security WP MessageTriggerEnumType",
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargePointCertificate",
    "StatusNotification",
)
# Security WP TriggerMessageStatusEnumType: same values as OCPP 1.6 §7.44
# TriggerMessageStatus, but a type of its own in the white paper.
TRIGGER_MESSAGE_STATUS_ENUM_TYPE = enum(
    "TriggerMessageStatusEnumType",
    "Security WP TriggerMessageStatusEnumType",
    "Accepted",
    "Rejected",
    "NotImplemented",
)
UPDATE_FIRMWARE_STATUS = enum(
    "UpdateFirmwareStatus",
    "Security WP UpdateFirmwareStatusEnumType",
    "Accepted",
    "Rejected",
    "AcceptedCanceled",
    "InvalidCertificate",
    "RevokedCertificate",
)
UPLOAD_LOG_STATUS = enum(
    "UploadLogStatus",
    "Security WP UploadLogStatusEnumType",
    "BadMessage",
    "Idle",
    "NotSupportedOperation",
    "PermissionDenied",
    "Uploaded",
    "UploadFailure",
    "Uploading",
)

ENUMS: tuple[EnumType, ...] = (
    AUTHORIZATION_STATUS,
    AVAILABILITY_STATUS,
    AVAILABILITY_TYPE,
    CANCEL_RESERVATION_STATUS,
    CHARGE_POINT_ERROR_CODE,
    CHARGE_POINT_STATUS,
    CHARGING_PROFILE_KIND_TYPE,
    CHARGING_PROFILE_PURPOSE_TYPE,
    CHARGING_PROFILE_STATUS,
    CHARGING_RATE_UNIT_TYPE,
    CLEAR_CACHE_STATUS,
    CLEAR_CHARGING_PROFILE_STATUS,
    CONFIGURATION_STATUS,
    DATA_TRANSFER_STATUS,
    DIAGNOSTICS_STATUS,
    FIRMWARE_STATUS,
    GET_COMPOSITE_SCHEDULE_STATUS,
    LOCATION,
    MEASURAND,
    MESSAGE_TRIGGER,
    PHASE,
    READING_CONTEXT,
    REASON,
    RECURRENCY_KIND_TYPE,
    REGISTRATION_STATUS,
    REMOTE_START_STOP_STATUS,
    RESERVATION_STATUS,
    RESET_STATUS,
    RESET_TYPE,
    TRIGGER_MESSAGE_STATUS,
    UNIT_OF_MEASURE,
    UNLOCK_STATUS,
    UPDATE_STATUS,
    UPDATE_TYPE,
    VALUE_FORMAT,
    CERTIFICATE_SIGNED_STATUS,
    CERTIFICATE_USE,
    DELETE_CERTIFICATE_STATUS,
    FIRMWARE_STATUS_ENUM_TYPE,
    GENERIC_STATUS,
    GET_INSTALLED_CERTIFICATE_STATUS,
    HASH_ALGORITHM,
    INSTALL_CERTIFICATE_STATUS,
    LOG,
    LOG_STATUS,
    MESSAGE_TRIGGER_ENUM_TYPE,
    TRIGGER_MESSAGE_STATUS_ENUM_TYPE,
    UPDATE_FIRMWARE_STATUS,
    UPLOAD_LOG_STATUS,
)


# --------------------------------------------------------------------------------------
# OCPP 1.6 classes (§7)
# --------------------------------------------------------------------------------------

# OCPP 1.6 §7.27 IdTagInfo
ID_TAG_INFO = datatype(
    "IdTagInfo",
    "OCPP 1.6 §7.27",
    opt("expiryDate", DATE_TIME),
    opt("parentIdTag", ID_TOKEN),
    req("status", AUTHORIZATION_STATUS),
)
# OCPP 1.6 §7.1 AuthorizationData: idTagInfo 0..1 (required for a Full update, which
# is a rule of SendLocalList's semantics, not of the message's structure).
AUTHORIZATION_DATA = datatype(
    "AuthorizationData",
    "OCPP 1.6 §7.1",
    req("idTag", ID_TOKEN),
    opt("idTagInfo", ID_TAG_INFO),
)
# OCPP 1.6 §7.14 ChargingSchedulePeriod: limit is a decimal with one fraction digit.
CHARGING_SCHEDULE_PERIOD = datatype(
    "ChargingSchedulePeriod",
    "OCPP 1.6 §7.14",
    req("startPeriod", INTEGER),
    req("limit", DECIMAL_ONE_DIGIT),
    opt("numberPhases", INTEGER),
)
# OCPP 1.6 §7.13 ChargingSchedule: chargingSchedulePeriod 1..*; minChargingRate is a
# decimal with one fraction digit.
CHARGING_SCHEDULE = datatype(
    "ChargingSchedule",
    "OCPP 1.6 §7.13",
    opt("duration", INTEGER),
    opt("startSchedule", DATE_TIME),
    req("chargingRateUnit", CHARGING_RATE_UNIT_TYPE),
    req("chargingSchedulePeriod", ListOf(CHARGING_SCHEDULE_PERIOD, min_items=1)),
    opt("minChargingRate", DECIMAL_ONE_DIGIT),
)
# OCPP 1.6 §7.8 ChargingProfile (stackLevel ">= 0" is a value rule the OCA's schemas do
# not encode; neither do we).
CHARGING_PROFILE = datatype(
    "ChargingProfile",
    "OCPP 1.6 §7.8",
    req("chargingProfileId", INTEGER),
    opt("transactionId", INTEGER),
    req("stackLevel", INTEGER),
    req("chargingProfilePurpose", CHARGING_PROFILE_PURPOSE_TYPE),
    req("chargingProfileKind", CHARGING_PROFILE_KIND_TYPE),
    opt("recurrencyKind", RECURRENCY_KIND_TYPE),
    opt("validFrom", DATE_TIME),
    opt("validTo", DATE_TIME),
    req("chargingSchedule", CHARGING_SCHEDULE),
)
# OCPP 1.6 §7.29 KeyValue (a configuration key in GetConfiguration.conf)
KEY_VALUE = datatype(
    "KeyValue",
    "OCPP 1.6 §7.29",
    req("key", CI_STRING_50),
    req("readonly", BOOLEAN),
    opt("value", CI_STRING_500),
)
# OCPP 1.6 §7.43 SampledValue: value is a String (it may carry signed data).
SAMPLED_VALUE = datatype(
    "SampledValue",
    "OCPP 1.6 §7.43",
    req("value", TEXT),
    opt("context", READING_CONTEXT),
    opt("format", VALUE_FORMAT),
    opt("measurand", MEASURAND),
    opt("phase", PHASE),
    opt("location", LOCATION),
    opt("unit", UNIT_OF_MEASURE),
)
# OCPP 1.6 §7.33 MeterValue: sampledValue 1..* (wherever a MeterValue appears,
# MeterValues.req.meterValue and StopTransaction.req.transactionData alike).
METER_VALUE = datatype(
    "MeterValue",
    "OCPP 1.6 §7.33",
    req("timestamp", DATE_TIME),
    req("sampledValue", ListOf(SAMPLED_VALUE, min_items=1)),
)


# --------------------------------------------------------------------------------------
# Security white paper classes. Named without the white paper's "Type" suffix.
# --------------------------------------------------------------------------------------

# Security WP CertificateHashDataType
CERTIFICATE_HASH_DATA = datatype(
    "CertificateHashData",
    "Security WP CertificateHashDataType",
    req("hashAlgorithm", HASH_ALGORITHM),
    req("issuerNameHash", String(128)),
    req("issuerKeyHash", String(128)),
    req("serialNumber", String(40)),
)
# Security WP FirmwareType: signature 1..1 in the white paper (unlike OCPP 2.0.1).
FIRMWARE = datatype(
    "Firmware",
    "Security WP FirmwareType",
    req("location", String(512)),
    req("retrieveDateTime", DATE_TIME),
    opt("installDateTime", DATE_TIME),
    req("signingCertificate", String(5500)),
    req("signature", String(800)),
)
# Security WP LogParametersType
LOG_PARAMETERS = datatype(
    "LogParameters",
    "Security WP LogParametersType",
    req("remoteLocation", String(512)),
    opt("oldestTimestamp", DATE_TIME),
    opt("latestTimestamp", DATE_TIME),
)

DATATYPES: tuple[Datatype, ...] = (
    AUTHORIZATION_DATA,
    CHARGING_PROFILE,
    CHARGING_SCHEDULE,
    CHARGING_SCHEDULE_PERIOD,
    ID_TAG_INFO,
    KEY_VALUE,
    METER_VALUE,
    SAMPLED_VALUE,
    CERTIFICATE_HASH_DATA,
    FIRMWARE,
    LOG_PARAMETERS,
)


# --------------------------------------------------------------------------------------
# The 28 actions of OCPP 1.6 (§6, alphabetical). Profiles per OCPP 1.6 §3.3 Feature
# Profiles; directions per OCPP 1.6 chapters 4 (initiated by Charge Point) and 5
# (initiated by Central System).
# --------------------------------------------------------------------------------------

_CORE_ACTIONS: tuple[Action, ...] = (
    Action(
        "Authorize",
        "cp_to_cs",
        "Core",
        msg("OCPP 1.6 §6.1", req("idTag", ID_TOKEN)),
        msg("OCPP 1.6 §6.2", req("idTagInfo", ID_TAG_INFO)),
    ),
    Action(
        "BootNotification",
        "cp_to_cs",
        "Core",
        msg(
            "OCPP 1.6 §6.3",
            opt("chargeBoxSerialNumber", CI_STRING_25),  # deprecated, still 0..1
            req("chargePointModel", CI_STRING_20),
            opt("chargePointSerialNumber", CI_STRING_25),
            req("chargePointVendor", CI_STRING_20),
            opt("firmwareVersion", CI_STRING_50),
            opt("iccid", CI_STRING_20),
            opt("imsi", CI_STRING_20),
            opt("meterSerialNumber", CI_STRING_25),
            opt("meterType", CI_STRING_25),
        ),
        msg(
            "OCPP 1.6 §6.4",
            req("currentTime", DATE_TIME),
            req("interval", INTEGER),
            req("status", REGISTRATION_STATUS),
        ),
    ),
    Action(
        "CancelReservation",
        "cs_to_cp",
        "Reservation",
        msg("OCPP 1.6 §6.5", req("reservationId", INTEGER)),
        msg("OCPP 1.6 §6.6", req("status", CANCEL_RESERVATION_STATUS)),
    ),
    Action(
        "ChangeAvailability",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.7", req("connectorId", INTEGER), req("type", AVAILABILITY_TYPE)),
        msg("OCPP 1.6 §6.8", req("status", AVAILABILITY_STATUS)),
    ),
    Action(
        "ChangeConfiguration",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.9", req("key", CI_STRING_50), req("value", CI_STRING_500)),
        msg("OCPP 1.6 §6.10", req("status", CONFIGURATION_STATUS)),
    ),
    Action(
        "ClearCache",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.11"),  # "No fields are defined."
        msg("OCPP 1.6 §6.12", req("status", CLEAR_CACHE_STATUS)),
    ),
    Action(
        "ClearChargingProfile",
        "cs_to_cp",
        "SmartCharging",
        msg(
            "OCPP 1.6 §6.13",
            opt("id", INTEGER),  # the ID of the charging profile to clear
            opt("connectorId", INTEGER),
            opt("chargingProfilePurpose", CHARGING_PROFILE_PURPOSE_TYPE),
            opt("stackLevel", INTEGER),
        ),
        msg("OCPP 1.6 §6.14", req("status", CLEAR_CHARGING_PROFILE_STATUS)),
    ),
    Action(
        "DataTransfer",
        "both",  # OCPP 1.6 §4.3 and §5.6: either side may initiate it
        "Core",
        msg(
            "OCPP 1.6 §6.15",
            req("vendorId", CI_STRING_255),
            opt("messageId", CI_STRING_50),
            opt("data", TEXT),  # "Text" without a length: a string, not an object
        ),
        msg("OCPP 1.6 §6.16", req("status", DATA_TRANSFER_STATUS), opt("data", TEXT)),
    ),
    Action(
        "DiagnosticsStatusNotification",
        "cp_to_cs",
        "FirmwareManagement",
        msg("OCPP 1.6 §6.17", req("status", DIAGNOSTICS_STATUS)),
        msg("OCPP 1.6 §6.18"),
    ),
    Action(
        "FirmwareStatusNotification",
        "cp_to_cs",
        "FirmwareManagement",
        msg("OCPP 1.6 §6.19", req("status", FIRMWARE_STATUS)),
        msg("OCPP 1.6 §6.20"),
    ),
    Action(
        "GetCompositeSchedule",
        "cs_to_cp",
        "SmartCharging",
        msg(
            "OCPP 1.6 §6.21",
            req("connectorId", INTEGER),
            req("duration", INTEGER),
            opt("chargingRateUnit", CHARGING_RATE_UNIT_TYPE),
        ),
        msg(
            "OCPP 1.6 §6.22",
            req("status", GET_COMPOSITE_SCHEDULE_STATUS),
            opt("connectorId", INTEGER),
            opt("scheduleStart", DATE_TIME),
            opt("chargingSchedule", CHARGING_SCHEDULE),
        ),
    ),
    Action(
        "GetConfiguration",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.23", opt("key", ListOf(CI_STRING_50))),  # 0..*
        msg(
            "OCPP 1.6 §6.24",
            opt("configurationKey", ListOf(KEY_VALUE)),  # 0..*
            opt("unknownKey", ListOf(CI_STRING_50)),  # 0..*
        ),
    ),
    Action(
        "GetDiagnostics",
        "cs_to_cp",
        "FirmwareManagement",
        msg(
            "OCPP 1.6 §6.25",
            req("location", ANY_URI),
            opt("retries", INTEGER),
            opt("retryInterval", INTEGER),
            opt("startTime", DATE_TIME),
            opt("stopTime", DATE_TIME),
        ),
        msg("OCPP 1.6 §6.26", opt("fileName", CI_STRING_255)),
    ),
    Action(
        "GetLocalListVersion",
        "cs_to_cp",
        "LocalAuthListManagement",
        msg("OCPP 1.6 §6.27"),
        msg("OCPP 1.6 §6.28", req("listVersion", INTEGER)),
    ),
    Action(
        "Heartbeat",
        "cp_to_cs",
        "Core",
        msg("OCPP 1.6 §6.29"),
        msg("OCPP 1.6 §6.30", req("currentTime", DATE_TIME)),
    ),
    Action(
        "MeterValues",
        "cp_to_cs",
        "Core",
        msg(
            "OCPP 1.6 §6.31",
            req("connectorId", INTEGER),
            opt("transactionId", INTEGER),
            req("meterValue", ListOf(METER_VALUE, min_items=1)),  # OCPP 1.6 §6.31: 1..*
        ),
        msg("OCPP 1.6 §6.32"),
    ),
    Action(
        "RemoteStartTransaction",
        "cs_to_cp",
        "Core",
        msg(
            "OCPP 1.6 §6.33",
            opt("connectorId", INTEGER),
            req("idTag", ID_TOKEN),
            opt("chargingProfile", CHARGING_PROFILE),
        ),
        msg("OCPP 1.6 §6.34", req("status", REMOTE_START_STOP_STATUS)),
    ),
    Action(
        "RemoteStopTransaction",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.35", req("transactionId", INTEGER)),
        msg("OCPP 1.6 §6.36", req("status", REMOTE_START_STOP_STATUS)),
    ),
    Action(
        "ReserveNow",
        "cs_to_cp",
        "Reservation",
        msg(
            "OCPP 1.6 §6.37",
            req("connectorId", INTEGER),
            req("expiryDate", DATE_TIME),
            req("idTag", ID_TOKEN),
            opt("parentIdTag", ID_TOKEN),
            req("reservationId", INTEGER),
        ),
        msg("OCPP 1.6 §6.38", req("status", RESERVATION_STATUS)),
    ),
    Action(
        "Reset",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.39", req("type", RESET_TYPE)),
        msg("OCPP 1.6 §6.40", req("status", RESET_STATUS)),
    ),
    Action(
        "SendLocalList",
        "cs_to_cp",
        "LocalAuthListManagement",
        msg(
            "OCPP 1.6 §6.41",
            req("listVersion", INTEGER),
            opt("localAuthorizationList", ListOf(AUTHORIZATION_DATA)),  # 0..*
            req("updateType", UPDATE_TYPE),
        ),
        msg("OCPP 1.6 §6.42", req("status", UPDATE_STATUS)),
    ),
    Action(
        "SetChargingProfile",
        "cs_to_cp",
        "SmartCharging",
        msg(
            "OCPP 1.6 §6.43",
            req("connectorId", INTEGER),
            req("csChargingProfiles", CHARGING_PROFILE),
        ),
        msg("OCPP 1.6 §6.44", req("status", CHARGING_PROFILE_STATUS)),
    ),
    Action(
        "StartTransaction",
        "cp_to_cs",
        "Core",
        msg(
            "OCPP 1.6 §6.45",
            req("connectorId", INTEGER),
            req("idTag", ID_TOKEN),
            req("meterStart", INTEGER),
            opt("reservationId", INTEGER),
            req("timestamp", DATE_TIME),
        ),
        msg(
            "OCPP 1.6 §6.46",
            req("idTagInfo", ID_TAG_INFO),
            req("transactionId", INTEGER),
        ),
    ),
    Action(
        "StatusNotification",
        "cp_to_cs",
        "Core",
        msg(
            "OCPP 1.6 §6.47",
            req("connectorId", INTEGER),
            req("errorCode", CHARGE_POINT_ERROR_CODE),
            opt("info", CI_STRING_50),
            req("status", CHARGE_POINT_STATUS),
            opt("timestamp", DATE_TIME),
            opt("vendorId", CI_STRING_255),
            opt("vendorErrorCode", CI_STRING_50),
        ),
        msg("OCPP 1.6 §6.48"),
    ),
    Action(
        "StopTransaction",
        "cp_to_cs",
        "Core",
        msg(
            "OCPP 1.6 §6.49",
            opt("idTag", ID_TOKEN),
            req("meterStop", INTEGER),
            req("timestamp", DATE_TIME),
            req("transactionId", INTEGER),
            opt("reason", REASON),
            # OCPP 1.6 §6.49: transactionData MeterValue 0..* (the list may be absent or
            # empty), each MeterValue with its own sampledValue 1..* (§7.33).
            opt("transactionData", ListOf(METER_VALUE)),
        ),
        msg("OCPP 1.6 §6.50", opt("idTagInfo", ID_TAG_INFO)),
    ),
    Action(
        "TriggerMessage",
        "cs_to_cp",
        "RemoteTrigger",
        msg(
            "OCPP 1.6 §6.51",
            req("requestedMessage", MESSAGE_TRIGGER),
            opt("connectorId", INTEGER),
        ),
        msg("OCPP 1.6 §6.52", req("status", TRIGGER_MESSAGE_STATUS)),
    ),
    Action(
        "UnlockConnector",
        "cs_to_cp",
        "Core",
        msg("OCPP 1.6 §6.53", req("connectorId", INTEGER)),
        msg("OCPP 1.6 §6.54", req("status", UNLOCK_STATUS)),
    ),
    Action(
        "UpdateFirmware",
        "cs_to_cp",
        "FirmwareManagement",
        msg(
            "OCPP 1.6 §6.55",
            req("location", ANY_URI),
            opt("retries", INTEGER),
            req("retrieveDate", DATE_TIME),
            opt("retryInterval", INTEGER),
        ),
        msg("OCPP 1.6 §6.56"),
    ),
)


# --------------------------------------------------------------------------------------
# The 11 actions of the security white paper (§5, alphabetical), all in the "Security"
# profile of this library (the white paper adds them to OCPP 1.6-J without a 1.6
# feature profile of their own).
# --------------------------------------------------------------------------------------

_SECURITY_ACTIONS: tuple[Action, ...] = (
    Action(
        "CertificateSigned",
        "cs_to_cp",
        "Security",
        msg("Security WP §5.1", req("certificateChain", String(10000))),
        msg("Security WP §5.2", req("status", CERTIFICATE_SIGNED_STATUS)),
    ),
    Action(
        "DeleteCertificate",
        "cs_to_cp",
        "Security",
        msg("Security WP §5.3", req("certificateHashData", CERTIFICATE_HASH_DATA)),
        msg("Security WP §5.4", req("status", DELETE_CERTIFICATE_STATUS)),
    ),
    Action(
        "ExtendedTriggerMessage",
        "cs_to_cp",
        "Security",
        msg(
            "Security WP §5.5",
            req("requestedMessage", MESSAGE_TRIGGER_ENUM_TYPE),
            opt("connectorId", INTEGER),
        ),
        msg("Security WP §5.6", req("status", TRIGGER_MESSAGE_STATUS_ENUM_TYPE)),
    ),
    Action(
        "GetInstalledCertificateIds",
        "cs_to_cp",
        "Security",
        msg("Security WP §5.7", req("certificateType", CERTIFICATE_USE)),
        msg(
            "Security WP §5.8",
            req("status", GET_INSTALLED_CERTIFICATE_STATUS),
            # Security WP §5.8 gives certificateHashData 0..*; the OCA's JSON schema for
            # this message (the white paper's normative JSON) has minItems 1, in the
            # OCPP 2.0 convention that an optional list is left out rather than sent
            # empty. We follow the OCA's JSON schema (see the report to the oracle test).
            opt("certificateHashData", ListOf(CERTIFICATE_HASH_DATA, min_items=1)),
        ),
    ),
    Action(
        "GetLog",
        "cs_to_cp",
        "Security",
        msg(
            "Security WP §5.9",
            req("log", LOG_PARAMETERS),
            req("logType", LOG),
            req("requestId", INTEGER),
            opt("retries", INTEGER),
            opt("retryInterval", INTEGER),
        ),
        msg(
            "Security WP §5.10",
            req("status", LOG_STATUS),
            opt("filename", String(255)),
        ),
    ),
    Action(
        "InstallCertificate",
        "cs_to_cp",
        "Security",
        msg(
            "Security WP §5.11",
            req("certificateType", CERTIFICATE_USE),
            req("certificate", String(5500)),
        ),
        msg("Security WP §5.12", req("status", INSTALL_CERTIFICATE_STATUS)),
    ),
    Action(
        "LogStatusNotification",
        "cp_to_cs",
        "Security",
        msg(
            "Security WP §5.13",
            req("status", UPLOAD_LOG_STATUS),
            opt("requestId", INTEGER),
        ),
        msg("Security WP §5.14"),
    ),
    Action(
        "SecurityEventNotification",
        "cp_to_cs",
        "Security",
        msg(
            "Security WP §5.15",
            req("type", String(50)),  # a free string; the white paper lists known values
            req("timestamp", DATE_TIME),
            opt("techInfo", String(255)),
        ),
        msg("Security WP §5.16"),
    ),
    Action(
        "SignCertificate",
        "cp_to_cs",
        "Security",
        msg("Security WP §5.17", req("csr", String(5500))),
        msg("Security WP §5.18", req("status", GENERIC_STATUS)),
    ),
    Action(
        "SignedFirmwareStatusNotification",
        "cp_to_cs",
        "Security",
        msg(
            "Security WP §5.19",
            req("status", FIRMWARE_STATUS_ENUM_TYPE),
            opt("requestId", INTEGER),
        ),
        msg("Security WP §5.20"),
    ),
    Action(
        "SignedUpdateFirmware",
        "cs_to_cp",
        "Security",
        msg(
            "Security WP §5.21",
            opt("retries", INTEGER),
            opt("retryInterval", INTEGER),
            req("requestId", INTEGER),
            req("firmware", FIRMWARE),
        ),
        msg("Security WP §5.22", req("status", UPDATE_FIRMWARE_STATUS)),
    ),
)

ACTIONS: tuple[Action, ...] = _CORE_ACTIONS + _SECURITY_ACTIONS
