# Run an ISA test ELF and require a specific exit status (used by the harness self-test).
#   cmake -DEMU=<wisp binary or qemu-system-riscv64> -DKIND=wisp|qemu -DELF=<file> -DEXPECT=<n>
#         -P expect_exit.cmake
if(KIND STREQUAL "qemu")
  set(cmd ${EMU} -machine spike -bios none -nographic -kernel ${ELF})
else()
  set(cmd ${EMU} --elf ${ELF} --timeout 20)
endif()
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc INPUT_FILE /dev/null OUTPUT_QUIET TIMEOUT 60)
if(NOT rc STREQUAL "${EXPECT}")
  message(FATAL_ERROR "${ELF}: exit status ${rc}, expected ${EXPECT}")
endif()
