"""The pure spatial engine: CRS handling, point-in-polygon location, indexes, topology.

Imports only numpy, shapely, pyproj and rtree: no project package and no UI library.
"""
