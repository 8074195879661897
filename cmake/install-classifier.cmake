# The classifier as a library for other programs (docs/classifier-library.md):
# install rules and two more Debian packages beside micromoment. Included from
# cmake/install.cmake after its own rules and before include(CPack).
#
#   libmicromoment-classifier0      <libdir>/libmicromoment-classifier.so.0*
#   libmicromoment-classifier-dev   <includedir>/micromoment/{classifier,errors}.h
#                                   <libdir>/libmicromoment-classifier.{so,a}
#                                   <libdir>/pkgconfig/micromoment-classifier.pc
#
# Debian names a library's packages after its SONAME: lib<name><soversion>
# for the run-time file, lib<name>-dev for what a build needs, so two ABIs
# can be installed side by side while programs move from one to the other.
# The lexicons the library loads stay in the micromoment package
# (share/micromoment/lexicons), which the library's package recommends.

set(MM_LIB_PKG libmicromoment-classifier0)
set(MM_DEV_PKG libmicromoment-classifier-dev)

# The install path of a GNUInstallDirs KIND (LIBDIR) under PREFIX, a
# variable reference evaluated later: it is absolute when set so.
function(mm_path_under out kind prefix)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(${out} "${CMAKE_INSTALL_${kind}}" PARENT_SCOPE)
  else()
    set(${out} "${prefix}/${CMAKE_INSTALL_${kind}}" PARENT_SCOPE)
  endif()
endfunction()

install(TARGETS mm_classifier_shared
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        COMPONENT classifier NAMELINK_COMPONENT classifier_dev)
# The archive is the build's own mm_classifier (what the program links),
# under the library's name so that -lmicromoment-classifier finds it.
install(FILES $<TARGET_FILE:mm_classifier> DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RENAME libmicromoment-classifier.a COMPONENT classifier_dev)
# A stripped install (the .deb's) strips the archive's debug sections as
# Debian does; its symbols stay, or it could not be linked.
mm_path_under(MM_LIBDIR_AT_INSTALL LIBDIR "\${CMAKE_INSTALL_PREFIX}")
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
      \"\$ENV{DESTDIR}${MM_LIBDIR_AT_INSTALL}/libmicromoment-classifier.a\"
      COMMAND_ERROR_IS_FATAL ANY)
  endif()" COMPONENT classifier_dev)
install(FILES ${CMAKE_SOURCE_DIR}/classifier/classifier.h
              ${CMAKE_SOURCE_DIR}/classifier/errors.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/micromoment COMPONENT classifier_dev)

# The .pc file names the prefix it is installed under, which is known only
# when installing (`cmake --install --prefix`, `make install PREFIX=`, cpack's
# /usr), so it is written then; the rest is filled in now.
set(MM_PC_PREFIX "@MM_PC_PREFIX@") # kept for the install-time pass
mm_path_under(MM_PC_LIBDIR LIBDIR "\${prefix}")
mm_path_under(MM_PC_INCLUDEDIR INCLUDEDIR "\${prefix}")
set(MM_PC_REQUIRES_PRIVATE "${MM_CLASSIFIER_PC_REQUIRES}")
set(MM_PC_IN ${CMAKE_BINARY_DIR}/packaging/micromoment-classifier.pc.in)
set(MM_PC ${CMAKE_BINARY_DIR}/packaging/micromoment-classifier.pc)
configure_file(${MM_PKG_DIR}/micromoment-classifier.pc.in ${MM_PC_IN} @ONLY)
install(CODE "set(MM_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${MM_PC_IN}\" \"${MM_PC}\" @ONLY)"
        COMPONENT classifier_dev)
install(FILES ${MM_PC} DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT classifier_dev)

# Debian policy: each package has its own /usr/share/doc/<package> with the
# changelog and the copyright file: the micromoment package's (install.cmake),
# packaging/copyright or else the licence.
foreach(comp_pkg classifier:${MM_LIB_PKG} classifier_dev:${MM_DEV_PKG})
  string(REPLACE ":" ";" comp_pkg "${comp_pkg}")
  list(GET comp_pkg 0 comp)
  list(GET comp_pkg 1 pkg)
  set(docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg})
  if(MM_GZIP)
    install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
            DESTINATION ${docdir} COMPONENT ${comp})
  endif()
  foreach(lic packaging/copyright LICENSE LICENSE.md LICENSE.txt COPYING)
    if(EXISTS ${CMAKE_SOURCE_DIR}/${lic})
      install(FILES ${CMAKE_SOURCE_DIR}/${lic} DESTINATION ${docdir}
              RENAME copyright COMPONENT ${comp})
      break()
    endif()
  endforeach()
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/docs/classifier-library.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${MM_DEV_PKG}
        COMPONENT classifier_dev)

# ---- Debian packages: one per component --------------------------------------

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL micromoment classifier classifier_dev)

# CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY on top of every component's
# description; each package gets its own summary line instead.
set(CPACK_DEBIAN_MICROMOMENT_PACKAGE_NAME micromoment)
set(CPACK_DEBIAN_MICROMOMENT_DESCRIPTION
    "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}\n${CPACK_PACKAGE_DESCRIPTION}")
unset(CPACK_PACKAGE_DESCRIPTION_SUMMARY)
# The conffiles list is micromoment's alone (dpkg refuses a conffile that a
# package does not contain).
set(CPACK_DEBIAN_MICROMOMENT_PACKAGE_CONTROL_EXTRA "${CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA}")
unset(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA)

set(MM_LIB_DESCRIPTION "\
micromoment's classifier reads search queries and clickstream events and\n\
says which micro-moment each one is (know, go, do or buy), with a\n\
confidence, the signals that fired and the journey stage, keeping per-user\n\
state between events. It is plain C with no I/O and no allocation per\n\
event; lexicons are loaded from a folder of TSV files (those of the\n\
micromoment package, or your own).")

set(CPACK_DEBIAN_CLASSIFIER_PACKAGE_NAME ${MM_LIB_PKG})
set(CPACK_DEBIAN_CLASSIFIER_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_CLASSIFIER_DESCRIPTION
    "micro-moment classifier library\n${MM_LIB_DESCRIPTION}\n\nThis package holds the shared library.")
# The lexicons ship with micromoment; another folder of lexicons does too.
set(CPACK_DEBIAN_CLASSIFIER_PACKAGE_RECOMMENDS
    "micromoment (= ${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")
# DEBIAN/shlibs: a program built against 0.1.0 needs 0.1.0 or later of the
# same SONAME (an ABI change moves the SONAME, CMakeLists.txt).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# ldconfig through dpkg's trigger, as Debian policy asks (lintian's error
# lacks-ldconfig-trigger without it). CPack's postinst and postrm call
# ldconfig as well (lintian warns maintscript-calls-ldconfig): a second run,
# harmless, that only a postinst and postrm of our own would avoid.
configure_file(${MM_PKG_DIR}/${MM_LIB_PKG}.triggers
               ${CMAKE_BINARY_DIR}/packaging/${MM_LIB_PKG}/triggers COPYONLY)
set(CPACK_DEBIAN_CLASSIFIER_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/${MM_LIB_PKG}/triggers)

set(CPACK_DEBIAN_CLASSIFIER_DEV_PACKAGE_NAME ${MM_DEV_PKG})
set(CPACK_DEBIAN_CLASSIFIER_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_CLASSIFIER_DEV_DESCRIPTION
    "micro-moment classifier library (development files)\n${MM_LIB_DESCRIPTION}\n\n\
This package holds the headers, the static library, the pkg-config file\n\
(micromoment-classifier) and an example.")
# The .so link points into the library's package; the .pc file's
# Requires.private needs its modules' .pc files, and the archive their
# libraries (CMakeLists.txt names both).
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_CLASSIFIER_DEV_DEPENDS classifier)
set(CPACK_DEBIAN_CLASSIFIER_DEV_PACKAGE_DEPENDS "${MM_CLASSIFIER_DEV_DEPENDS}")
# Both are built from micromoment's source, whose changelog they carry.
foreach(comp CLASSIFIER CLASSIFIER_DEV)
  set(CPACK_DEBIAN_${comp}_PACKAGE_SOURCE micromoment)
endforeach()
