# Turns a text file into a C++ source defining `extern const char NAME[]` (namespace tapegrad::detail) with its
# contents, so that a page template can be edited as the HTML file it is. Usage:
#   cmake -DIN=file.html -DOUT=file.cpp -DNAME=identifier -P embed_text.cmake
file(READ "${IN}" text)
set(delimiter "tapegrad_embed")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains )${delimiter}\" and cannot be embedded as a raw string literal")
endif()
get_filename_component(source "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "// Generated from ${source} by cmake/embed_text.cmake at build time: edit ${source}, not this file.\n"
  "namespace tapegrad::detail {\n"
  "extern const char ${NAME}[];\n"
  "const char ${NAME}[] = R\"${delimiter}(${text})${delimiter}\";\n"
  "}  // namespace tapegrad::detail\n")
file(RENAME "${OUT}.tmp" "${OUT}")
