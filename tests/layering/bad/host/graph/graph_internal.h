/* a stand-in for the real header (tests/layering.cmake) */
