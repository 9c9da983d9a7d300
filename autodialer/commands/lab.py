"""`autodialer lab`: run the lab PBX (an AMI server simulating Asterisk 22) in the foreground."""

HELP = "run the lab PBX: a simulated Asterisk 22 AMI on loopback (Ctrl-C stops it)"


def add_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5038, help="TCP port (default 5038; 0 = any free port)")
    parser.add_argument("--username", default="dialer", help="AMI user (default dialer)")
    parser.add_argument("--secret", default="dialer-secret", help="AMI secret (default dialer-secret)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiply every dialplan duration (e.g. 0.01)")
    parser.add_argument("--mode", choices=["plan", "random"], default="plan",
                        help="plan: the last digit decides the outcome; random: drawn per call (benchmarks)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random mode and fault rates")
    parser.add_argument("--agents", type=int, default=2, help="simulated agents in queue support (default 2)")
    parser.add_argument("--agent-talk", type=float, default=5.0, help="agent talk time, seconds (default 5)")
    parser.add_argument("--agent-wrapup", type=float, default=0.0, help="agent wrap-up time, seconds (default 0)")
    parser.add_argument("--spool", default=None, metavar="DIR", help="process call files in DIR/outgoing")
    parser.add_argument("--dialplan", default=None, metavar="FILE",
                        help="the extensions.conf the lab executes (default asterisk-lab/extensions.conf)")
    parser.add_argument("--confbridge", default=None, metavar="FILE",
                        help="the confbridge.conf its ConfBridge() profiles come from (default asterisk-lab/confbridge.conf)")
    parser.add_argument("--answer-rate", type=float, default=0.6, help="random mode: share answered")
    parser.add_argument("--busy-rate", type=float, default=0.15, help="random mode: share busy")
    parser.add_argument("--no-answer-rate", type=float, default=0.15, help="random mode: share not answered")
    parser.add_argument("--congestion-rate", type=float, default=0.05, help="random mode: share congested")
    parser.add_argument("--talk-mean", type=float, default=30.0, help="random mode: mean talk time, seconds")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--fault-drop-after", type=int, default=None, metavar="N",
                        help="drop each connection after N actions")
    faults.add_argument("--fault-refuse-logins", type=int, default=0, metavar="N",
                        help="refuse the first N logins (-1: all)")
    faults.add_argument("--fault-fail-originates", type=float, default=0.0, metavar="RATE",
                        help="fail this share of originates (0..1)")
    faults.add_argument("--fault-stall", type=float, nargs=2, default=None, metavar=("SECONDS", "EVERY"),
                        help="stall (no replies, no events) for SECONDS every EVERY seconds")
    faults.add_argument("--fault-originate-mode", choices=["error", "silent"], default="error",
                        help="error: Response: Error; silent: queued but no OriginateResponse ever")


def run(args) -> int:
    import asyncio

    from autodialer.errors import ConfigError
    from autodialer.lab import LabOptions, LabPBX

    options = LabOptions(
        host=args.host, port=args.port, username=args.username, secret=args.secret, time_scale=args.time_scale,
        mode=args.mode, seed=args.seed, agents=args.agents, agent_talk=args.agent_talk, agent_wrapup=args.agent_wrapup,
        spool_dir=args.spool, answer_rate=args.answer_rate, busy_rate=args.busy_rate,
        no_answer_rate=args.no_answer_rate, congestion_rate=args.congestion_rate, talk_mean=args.talk_mean,
        dialplan=args.dialplan, confbridge=args.confbridge,
    )

    if args.fault_stall and not 0 < args.fault_stall[0] < args.fault_stall[1]:
        raise ConfigError("--fault-stall SECONDS EVERY needs 0 < SECONDS < EVERY")

    lab = LabPBX(options)  # loads the dialplan: an application or function the lab lacks is an error here

    async def serve() -> None:
        try:
            await lab.start()
        except OSError as exc:
            raise ConfigError(f"lab: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        if args.fault_drop_after is not None:
            lab.faults.drop_after(args.fault_drop_after)
        if args.fault_refuse_logins:
            lab.faults.refuse_logins(None if args.fault_refuse_logins < 0 else args.fault_refuse_logins)
        if args.fault_fail_originates:
            lab.faults.fail_originates(rate=args.fault_fail_originates, mode=args.fault_originate_mode)
        if args.fault_stall:
            stall_for, every = args.fault_stall

            async def stall_periodically() -> None:
                while True:
                    await asyncio.sleep(every)
                    lab.faults.stall(stall_for)

            stall_task = asyncio.get_running_loop().create_task(stall_periodically())  # noqa: F841 (kept alive)
        spool = f", spool {args.spool}" if args.spool else ""
        print(f"lab PBX listening: {lab.redacted_url} (mode {options.mode}, time x{options.time_scale:g}{spool}); "
              "Ctrl-C stops", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await lab.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        print("lab PBX stopped", flush=True)
    return 0
