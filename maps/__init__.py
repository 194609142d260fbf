"""Map builders: folium maps of the layers, drawn with assets the app serves itself."""
