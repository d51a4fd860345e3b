"""Subcommands: service orders as Open311 GeoReport v2 documents (resilience.open311 has
the mapping).

``resilience open311 export --kind services|requests`` prints (or writes) a ``services``
or ``requests`` document as JSON; ``resilience open311 import FILE --community C --by
PERSON`` records a ``requests`` document's requests as orders of a community. Both take
``--db`` before or after their own name."""

import argparse
import json
from pathlib import Path

from resilience.cli.common import (
    DB_HELP,
    Command,
    _add_period,
    _community,
    _emit,
    _existing,
    _file,
    _period,
    _store,
    _where,
)
from resilience.domain.values import Actor, ProviderKind
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _
from resilience.open311 import import_requests, requests_document, services_document


def register(command: Command) -> None:
    """Add the ``open311`` subcommand and its actions (see Command)."""
    parent = command("open311", _("service orders as Open311 GeoReport v2 JSON: export the "
                                  "services and requests, import requests as orders"), None,
                     db_required=False)
    actions = parent.add_subparsers(dest="open311", required=True, metavar="{export,import}")
    export = actions.add_parser("export", help=_("print a GeoReport v2 services or requests "
                                                 "document (JSON)"))
    _add_db(export)
    export.add_argument("--kind", choices=["services", "requests"], required=True,
                        help=_("services: the catalogue; requests: the orders placed in the "
                               "period (all time unless --month or --from/--to)"))
    export.add_argument("--out", help=_("write to this file instead of printing"))
    _add_period(export, N_("time zone of --month, --from and --to without an offset "
                           "(default: the community's own offset, else UTC)"))
    export.set_defaults(run=_export)
    record = actions.add_parser("import", help=_("record a GeoReport v2 requests document "
                                                 "as orders of a community (all of it, or "
                                                 "nothing)"))
    _add_db(record)
    record.add_argument("file", help=_("the requests document (.json: a list of requests)"))
    record.add_argument("--community", required=True,
                        help=_("a community's id or exact name"))
    record.add_argument("--by", required=True,
                        help=_("your person id, recorded as every fact's actor and "
                               "importer"))
    record.add_argument("--role", default="community_staff",
                        help=_("the role you import in, which the policy must allow to "
                               "import (default community_staff)"))
    record.add_argument("--provider-kind", choices=[kind.value for kind in ProviderKind],
                        default=ProviderKind.SOCIAL_ORGANISATION.value,
                        help=_("the kind of provider each agency_responsible becomes "
                               "(default social_organisation)"))
    record.set_defaults(run=_import)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=argparse.SUPPRESS,
                        help=_("{db}; also accepted before the action").format(db=_(DB_HELP)))


def _db(args: argparse.Namespace) -> str:
    return _store(getattr(args, "db", None), f"open311 {args.open311}")


def _export(args: argparse.Namespace) -> int:
    with _existing(_db(args)) as engine:
        if args.kind == "services":
            document = services_document(engine)
        else:
            community, zone = _where(engine, args)
            document = requests_document(engine, community, _period(args, zone))
    _emit(json.dumps(document, ensure_ascii=False, indent=2), args.out)
    return 0


def _import(args: argparse.Namespace) -> int:
    with _file("read", args.file):
        text = Path(args.file).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(_("{file} is not JSON: {reason} at line {line}, column "
                                  "{column}").format(file=args.file, reason=exc.msg,
                                                     line=exc.lineno, column=exc.colno)) from None
    with _existing(_db(args)) as engine:
        community = _community(engine, args.community)
        assert community is not None  # --community is required
        ids = import_requests(engine, document, community=community,
                              actor=Actor(args.by, args.role),
                              provider_kind=ProviderKind(args.provider_kind))
    print(_("{count} requests imported as orders of community {community}").format(
        count=len(ids), community=community))
    for request, order in zip(document, ids, strict=True):
        print(_("request {request}: order {order}").format(
            request=request["service_request_id"], order=order))
    return 0
