# Install rules (`make install`, `cmake --install`) and the Debian package
# (`cpack -G DEB`, `make package`). Included from the top CMakeLists.txt.
#
#   bin/micromoment
#   share/man/man1/micromoment.1.gz
#   share/micromoment/lexicons/*.tsv     (the binary's default lexicon folder)
#   share/micromoment/lexicons/strategy/*.tsv  (the strategy texts per language)
#   share/micromoment/schemas/*.avsc
#   share/doc/micromoment/micromoment.conf.example, README.md
#   <sysconfdir>/micromoment/micromoment.conf   (a dpkg conffile: /etc with
#                                                 prefix /usr)
#   <systemd unit dir>/micromoment.service
include(GNUInstallDirs)
# What no rule assigns elsewhere goes into the micromoment package (the
# classifier library's packages: cmake/install-classifier.cmake).
set(CMAKE_INSTALL_DEFAULT_COMPONENT_NAME micromoment)

set(MM_PKG_DIR "${CMAKE_SOURCE_DIR}/packaging")

# systemd looks in /lib/systemd/system (Debian 12, merged-/usr or not) and
# /usr/lib/systemd/system; lintian of bookworm wants the former for a .deb.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(MM_SYSTEMD_UNIT_DIR_DEFAULT "/lib/systemd/system")
else()
  set(MM_SYSTEMD_UNIT_DIR_DEFAULT "lib/systemd/system")
endif()
set(MM_SYSTEMD_UNIT_DIR "${MM_SYSTEMD_UNIT_DIR_DEFAULT}" CACHE STRING
    "Where the systemd unit is installed (relative: under the prefix)")

install(TARGETS micromoment RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Debian policy: man pages gzip-compressed, reproducibly (-n: no name, no time).
find_program(MM_GZIP gzip)
if(MM_GZIP)
  set(MM_MAN_GZ "${CMAKE_BINARY_DIR}/packaging/micromoment.1.gz")
  add_custom_command(
    OUTPUT ${MM_MAN_GZ}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
    COMMAND ${MM_GZIP} -9nc ${MM_PKG_DIR}/micromoment.1 > ${MM_MAN_GZ}
    DEPENDS ${MM_PKG_DIR}/micromoment.1
    COMMENT "Compressing the man page")
  add_custom_target(mm_man ALL DEPENDS ${MM_MAN_GZ})
  install(FILES ${MM_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  install(FILES ${MM_PKG_DIR}/micromoment.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# Recursive: the strategy/ subfolder comes along.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/lexicons/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/micromoment/lexicons
        FILES_MATCHING PATTERN "*.tsv")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schemas/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/micromoment/schemas
        FILES_MATCHING PATTERN "*.avsc")

install(FILES ${MM_PKG_DIR}/micromoment.conf.example ${CMAKE_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${MM_PKG_DIR}/micromoment.conf.example
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/micromoment
        RENAME micromoment.conf)

# The unit names /usr/bin and /etc; other prefixes get their own paths.
file(READ ${MM_PKG_DIR}/micromoment.service MM_UNIT)
string(REPLACE "/usr/bin/micromoment" "${CMAKE_INSTALL_FULL_BINDIR}/micromoment"
       MM_UNIT "${MM_UNIT}")
string(REPLACE "/etc/micromoment/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/micromoment/"
       MM_UNIT "${MM_UNIT}")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/micromoment.service "${MM_UNIT}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${MM_PKG_DIR}/micromoment.service)
install(FILES ${CMAKE_BINARY_DIR}/packaging/micromoment.service
        DESTINATION ${MM_SYSTEMD_UNIT_DIR})

# ---- Debian package ---------------------------------------------------------

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "micromoment")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "micromoment")
# A placeholder until the project names a maintainer: -DMM_DEB_MAINTAINER=...
set(MM_DEB_MAINTAINER "micromoment maintainers <maintainers@micromoment.invalid>"
    CACHE STRING "Maintainer field of the .deb: Name <email>")
set(CPACK_PACKAGE_CONTACT "${MM_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Kafka stream processor that detects micro-moments in clickstreams")
set(CPACK_PACKAGE_DESCRIPTION
    "micromoment consumes clickstream and search-query events from Kafka,\n\
detects micro-moments (the instants when a person turns to a device to know,\n\
go, do or buy something) and publishes enriched moment events to downstream\n\
topics for real-time personalization. Bad records go to a dead-letter topic\n\
with headers naming the error. It exposes Prometheus metrics and ships a\n\
systemd unit.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # micromoment_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
# Depends from the ELF's NEEDED entries via dpkg-shlibdeps (dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack: the .deb is meant for -DCMAKE_INSTALL_PREFIX=/usr "
                 "(now ${CMAKE_INSTALL_PREFIX})")
endif()
find_program(MM_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NOT MM_DPKG_SHLIBDEPS)
  message(STATUS "cpack: dpkg-shlibdeps not found (apt-get install dpkg-dev): "
                 "the .deb would have no Depends")
endif()

# Debian policy: /usr/share/doc/<pkg>/changelog.Debian.gz and copyright.
# The changelog has one entry for this version; its date is SOURCE_DATE_EPOCH
# when set (reproducible builds), else the configure time.
string(TIMESTAMP MM_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/changelog.Debian
     "micromoment (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
     "  * Built with CPack from the micromoment source tree.\n\n"
     " -- ${MM_DEB_MAINTAINER}  ${MM_DEB_DATE}\n")
if(MM_GZIP)
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
    COMMAND ${MM_GZIP} -9nc ${CMAKE_BINARY_DIR}/packaging/changelog.Debian
            > ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
    DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.Debian)
  add_custom_target(mm_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()
# The licence (LICENSE, Apache-2.0) as Debian wants it: a machine-readable
# copyright file that points at the system's copy of the licence text.
install(FILES ${MM_PKG_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# /etc files are conffiles: an upgrade keeps the operator's edits.
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/micromoment/micromoment.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(${CMAKE_CURRENT_LIST_DIR}/install-classifier.cmake)

include(CPack)
