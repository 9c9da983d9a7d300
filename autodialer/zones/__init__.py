"""The callee's local time zone(s) from the number: subjects of the Russian Federation and their
zones (subjects.py), the mobile registry's ranges (registry.py), the lookup (lookup.py)."""

from autodialer.zones.lookup import CalleeZones, ZoneSource, callee_zones, parse_stored, zones_for_parts

__all__ = ["CalleeZones", "ZoneSource", "callee_zones", "parse_stored", "zones_for_parts"]
