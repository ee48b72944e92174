/* a stand-in for the old home of the update rules (tests/layering.cmake) */
