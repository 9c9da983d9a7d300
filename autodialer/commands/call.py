HELP = "place one call through the AMI (AUTODIALER_AMI_URL) and print how it ended"


def add_arguments(parser):
    parser.add_argument("number", help="digits to dial (optional leading +)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--context", default="from-dialer", help="dialplan context the answered call is sent to (default: from-dialer)")
    parser.add_argument("--exten", default="s", help="extension in --context (default: s)")
    parser.add_argument("--priority", type=int, default=1)
    parser.add_argument("--outbound-context", default="dialer-outbound", help="context of the first leg Local/NUMBER@CONTEXT (default: dialer-outbound)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S", help="ring timeout in seconds (default: 30)")
    parser.add_argument("--max-call-seconds", type=float, default=3600.0, metavar="S", help="give up on an answered call after S seconds")
    parser.add_argument("--caller-id", help='caller ID, e.g. \'"Shop" <74951234567>\'')
    parser.add_argument("--var", action="append", default=[], metavar="K=V", help="channel variable (repeatable)")
    parser.add_argument("--attempt-id", help="ChannelId of the call (default: random)")
    parser.add_argument("--operator", metavar="EXT", help="click-to-call: ring operator extension EXT first "
                        "(Local/EXT@dialer-operators), then NUMBER from dialer-callback; --context is ignored")
    parser.add_argument("--region", default="RU", help="with --operator: region of NUMBER written without +, and the "
                        "region it may be in (default: RU)")
    parser.add_argument("--allow-region", action="append", default=[], metavar="CC",
                        help="with --operator: also allow numbers of region CC (repeatable); only mobile and fixed-line "
                        "numbers not on the global do-not-call list are dialed")


def run(args) -> int:
    import asyncio
    import json
    import sys

    from autodialer import config
    from autodialer.errors import UnsafeValueError
    from autodialer.telephony.safety import check_dial_number
    from autodialer.telephony.ami import AmiAuthError, AmiConnectionError, AmiSession
    from autodialer.telephony.engine import DialEngine

    settings = config.ami_settings()  # ConfigError (exit 2) names AUTODIALER_AMI_URL
    check_dial_number(args.number)  # bad input is exit 2 even when the PBX is down
    if args.operator is not None:
        from autodialer.kinds.callback import check_client_number, check_operator

        from autodialer.kinds.callback import manual_refusal

        check_operator(args.operator)
        args.number = check_client_number(args.number, args.region)
        # The policy click-to-call campaigns apply, with --region as the campaign's region.
        why = manual_refusal(args.number, args.region, args.allow_region, database_url=config.database_url())
        if why is not None:
            raise UnsafeValueError(f"{args.number} is not dialed: {why}")
    from autodialer.telephony.dialplan import default_kind, owned_by
    from autodialer.telephony.safety import check_token

    variables = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UnsafeValueError(f"--var {item!r}: expected NAME=VALUE")
        check_token(name, field=f"--var {name}: variable name")
        why = owned_by(name)
        if why is not None:
            raise UnsafeValueError(f"--var {name}: {name} is {why}; it cannot be given on the command line")
        # The kind autodialer/telephony/dialplan.py gives the name (ORDER_ID digits, CONF_ROLE an enum...), else text.
        variables[name] = default_kind(name).check(value, field=f"--var {name}")

    async def place():
        from autodialer.telephony.cdr import cdr_reader_from_env

        # The production session (reconnects, pings): an AMI outage during the call is resynced,
        # not reported as a failure; AUTODIALER_CDR_DATABASE_URL resolves a call that ended meanwhile.
        async with AmiSession(settings) as ami:
            engine = DialEngine(ami, outbound_context=args.outbound_context, default_ring_timeout=args.timeout,
                                cdr=cdr_reader_from_env())
            if args.operator is not None:
                from autodialer.kinds.callback import click_to_call

                return await click_to_call(engine, operator=args.operator, number=args.number, caller_id=args.caller_id,
                                           operator_ring=args.timeout, client_ring=args.timeout,
                                           attempt_id=args.attempt_id, max_call_seconds=args.max_call_seconds,
                                           variables=variables)
            return await engine.originate(
                args.number,
                context=args.context,
                exten=args.exten,
                priority=args.priority,
                variables=variables,
                caller_id=args.caller_id,
                attempt_id=args.attempt_id,
                max_call_seconds=args.max_call_seconds,
            )

    try:
        result = asyncio.run(place())
        if args.operator is not None:
            outcome, result = result, result.call
            if args.json:
                print(json.dumps(outcome.to_dict(), ensure_ascii=False))
                return 0
            print(f"{outcome.result}  operator={outcome.operator} -> {outcome.number} "
                  f"client_dial_status={outcome.client_dial_status or '-'} client_cause={outcome.client_hangup_cause}")
    except (AmiConnectionError, AmiAuthError) as exc:
        print(f"autodialer call: error: {exc} ({config.AMI_URL_VAR}={settings.redacted_url()})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        cause = f"{result.cause} ({result.cause_txt})" if result.cause is not None else "-"
        lines = [
            f"{result.status}  number={result.number} reason={result.reason} cause={cause} dial_status={result.dial_status or '-'}",
            f"  attempt_id={result.attempt_id} channel={result.channel or '-'}",
            f"  queued_at={_iso(result.queued_at)} answered_at={_iso(result.answered_at)} ended_at={_iso(result.ended_at)} talk_seconds={result.talk_seconds}",
        ]
        lines += ["  event " + " ".join(f"{k}={v}" for k, v in event.items()) for event in result.events]
        if result.error:
            lines.append(f"  error: {result.error}")
        print("\n".join(lines))
    return 0


def _iso(value) -> str:
    return value.isoformat() if value is not None else "-"
