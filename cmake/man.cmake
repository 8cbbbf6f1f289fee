# Makes the man page vggcl.1 with help2man: `vggcl --help` for the synopsis and, as a COMMANDS
# section, each subcommand's own --help (the subcommands are the indented words of the first).
#   cmake -DVGGCL=path/to/vggcl -DHELP2MAN=... -DOUT=vggcl.1 -P cmake/man.cmake
execute_process(COMMAND ${VGGCL} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${VGGCL} --help failed")
endif()
string(REGEX MATCHALL "\n  [a-z][a-z-]+" cmds "${top}")
set(text "[SYNOPSIS]\n.B vggcl\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.br\n.B vggcl\n\\fICOMMAND\\fR \\fB\\-\\-help\\fR\n.br\n.B vggcl \\-\\-version\n[COMMANDS]\n")
foreach(c IN LISTS cmds)
  string(STRIP "${c}" c)
  execute_process(COMMAND ${VGGCL} ${c} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${VGGCL} ${c} --help failed")
  endif()
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" help "${help}")
  string(APPEND text ".SS ${c}\n.nf\n${help}.fi\n")
endforeach()
file(WRITE ${OUT}.h2m "${text}")
# (run as ./vggcl in its folder: help2man runs the program through the shell, which split a path with a space)
get_filename_component(dir "${VGGCL}" DIRECTORY)
get_filename_component(name "${VGGCL}" NAME)
execute_process(COMMAND ${HELP2MAN} --no-info --no-discard-stderr --include ${OUT}.h2m
                        --name "run VGG-GAP image classifiers on OpenCL devices" --output ${OUT} ./${name}
                WORKING_DIRECTORY ${dir} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed")
endif()
