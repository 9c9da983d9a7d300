HELP = "load a contact list (CSV, XLSX, XLS, ODS) into a campaign: autodialer import CAMPAIGN_FILE LIST_FILE [--dry-run] [--rejects FILE]"

PREVIEW_ROWS = 5


def add_arguments(parser):
    parser.add_argument("campaign_file", metavar="CAMPAIGN_FILE",
                        help="campaign YAML, validated whole exactly as `autodialer run` does")
    parser.add_argument("list_file", metavar="LIST_FILE",
                        help="the list: .csv/.txt (any delimiter; UTF-8, UTF-16, cp1251, cp1252 detected, or list.encoding), "
                             ".xlsx, .xls or .ods")
    parser.add_argument("--dnc", action="append", default=[], metavar="FILE",
                        help="a global do-not-call file (a 'phone' column); may be repeated")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what was detected (encoding, delimiter, header row, sheet), the column mapping, "
                             "the first five mapped rows and the rejects by reason; write nothing to the database")
    parser.add_argument("--rejects", metavar="FILE", default=None,
                        help="write each rejected row (row number, column, reason, its original cells) to FILE (.csv or .xlsx)")


def run(args) -> int:
    from pathlib import Path

    from autodialer import config
    from autodialer.campaigns.campaign import load_campaign
    from autodialer.lists.rejects import by_reason, format_by_reason, write_rejects_file
    from autodialer.lists.writing import check_suffix
    from autodialer.store import Store

    # The one loader of campaign files (the run's): a file `run` refuses writes nothing here either.
    campaign = load_campaign(args.campaign_file)
    settings = campaign.list_settings()
    if args.rejects:
        check_suffix(Path(args.rejects))
    if args.dry_run:
        return dry_run(campaign, Path(args.list_file), args.rejects)
    store = Store(config.database_url())
    try:
        store.migrate()
        campaign_id = store.ensure_campaign(campaign.name, kind=campaign.kind, settings=campaign.settings_snapshot())
        report = store.import_list(campaign_id, args.list_file, settings, global_exclusions=args.dnc)
        for sub in report.exclusion_reports:
            print(f"exclusions {sub}")
        print(report)
        if report.upload_id is None or report.already_imported:
            return 0
        options = store.upload_read_options(report.upload_id)
        if options.get("encoding_note"):
            print(f"encoding {options['encoding']}: {options['encoding_note']}")
        groups = by_reason(store.reject_counts(report.upload_id))
        for line in format_by_reason(groups):
            print(line)
        if args.rejects:
            rejects = store.rejects(report.upload_id)
            n = write_rejects_file(Path(args.rejects), Path(args.list_file), options, rejects)
            print(f"{args.rejects}: {n} rejected row(s)")
    finally:
        store.close()
    return 0


def dry_run(campaign, path, rejects_path) -> int:
    """Read and check the whole list as the import would (rows, numbers, kinds), print what was
    found, and write nothing to the database (exclusion lists and numbers already in the
    campaign are the database's: a dry run does not check them)."""
    import json
    from pathlib import Path

    from autodialer.lists.parallel import prepared_chunks
    from autodialer.lists.reading import open_list
    from autodialer.lists.rejects import by_reason, format_by_reason, is_note, write_rejects_file

    mapping = campaign.list.model_copy()
    listfile = open_list(path, mapping)
    print(f"{path}: dry run, nothing is written to the database")
    detected = [f"header row {listfile.header_row}"]
    if listfile.sheet is not None:
        detected.insert(0, f"sheet {listfile.sheet!r}")
    if listfile.encoding is not None:
        how = listfile.encoding_note
        detected.insert(0, f"encoding {listfile.encoding}" + (f" ({how})" if how else ""))
    if listfile.delimiter is not None:
        detected.insert(1, f"delimiter {listfile.delimiter!r}")
    print("detected: " + ", ".join(detected))
    print(f"columns: {', '.join(listfile.columns)}")
    print("mapping:")
    print(f"  phone <- {', '.join(mapping.phone_columns)}")
    for name, var in mapping.variables.items():
        present = var.column in listfile.columns
        extra = [var.kind or "text"]
        if var.sent:
            extra.append("sent")
        if not present:
            extra.append("column absent: " + (f"default {var.default!r}" if var.default is not None else "no value"))
        print(f"  {name} <- {var.column} ({', '.join(extra)})")
    read = blank = good = 0
    preview: list = []
    rejects: list = []
    for prep in prepared_chunks(listfile, mapping, campaign.default_region, workers=0):
        read += prep.read
        blank += prep.blank
        good += len(prep.good)
        rejects += [r for r in prep.rejects if not is_note(r[3])]
        for row in prep.good.head(PREVIEW_ROWS - len(preview)).itertuples(index=False):
            preview.append(row)
    blank += listfile.skipped_blank
    print(f"first {len(preview)} mapped row(s):")
    for row in preview:
        zones = row.timezone or "(campaign's zone)"
        print(f"  row {row.row}: {row.phone}  zone {zones}  {json.dumps(json.loads(row.variables), ensure_ascii=False)}")
    print(f"would read {read}: valid {good}, rejected {len(rejects)}" + (f" (blank rows {blank})" if blank else "")
          + "; duplicates of known numbers and exclusions are checked by the import itself")
    for line in format_by_reason(by_reason((r[3], 1) for r in rejects)):
        print(line)
    if rejects_path:
        n = write_rejects_file(Path(rejects_path), path, listfile.read_options(), rejects)
        print(f"{rejects_path}: {n} rejected row(s)")
    return 0
