"""Speech data: subtitles, media, segments, sources, features, preparation."""
