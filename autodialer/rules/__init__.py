"""The pure rules a call must obey, every clock injectable: retry policy, calling windows and
production calendars, contact-frequency limits, regulatory presets, which numbers may be
dialed without a list, and durations as campaign files write them. No database, no PBX."""
