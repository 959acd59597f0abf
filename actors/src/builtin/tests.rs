use super::locate::Locator;
use super::*;

const BOM_STR: &str = "\u{FEFF}";

fn run(kind: BuiltinKind, content: &[u8]) -> Vec<Finding> {
    check(kind, &BuiltinSettings::default(), &BuiltinInput::new(content))
}

/// `run`, for a file with these marks.
fn marked(kind: BuiltinKind, marks: FileMarks, content: &[u8]) -> Vec<Finding> {
    check(kind, &BuiltinSettings::default(), &BuiltinInput { marks, ..BuiltinInput::new(content) })
}

fn positions(findings: &[Finding]) -> Vec<(u32, u32)> {
    findings.iter().map(|f| (f.line.unwrap(), f.column.unwrap())).collect()
}

/// The single finding, asserting there is exactly one and that it is tagged
/// with the kind's rule.
fn one(kind: BuiltinKind, content: &[u8]) -> Finding {
    let findings = run(kind, content);
    assert_eq!(findings.len(), 1, "{kind}: expected one finding, got {findings:#?}");
    assert_eq!(findings[0].rule.as_deref(), Some(kind.name()));
    findings.into_iter().next().unwrap()
}

fn clean(kind: BuiltinKind, content: &[u8]) {
    let findings = run(kind, content);
    assert!(
        findings.is_empty(),
        "{kind}: expected no findings for {:?}, got {findings:#?}",
        String::from_utf8_lossy(content)
    );
}

fn at(f: &Finding) -> (u32, u32) {
    (f.line.expect("line"), f.column.expect("column"))
}

/// Runs a check over a huge input. Speed is measured by benches/check.rs
/// against the read-once floor, never asserted in a test; these tests only
/// prove the huge inputs are handled and give the right findings.
fn quick<T>(f: impl FnOnce() -> T) -> T {
    f()
}

const TEN_MB: usize = 10 * 1024 * 1024;

// ---------------------------------------------------------------- kinds ----

#[test]
fn names_round_trip_and_are_unique() {
    let mut seen = std::collections::HashSet::new();
    for kind in BuiltinKind::ALL {
        assert!(seen.insert(kind.name()), "duplicate name {}", kind.name());
        assert_eq!(BuiltinKind::from_name(kind.name()), Some(kind));
        assert_eq!(kind.to_string(), kind.name());
        // serde uses the same names.
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.name()));
        assert_eq!(serde_json::from_str::<BuiltinKind>(&json).unwrap(), kind);
        assert!(!kind.description().is_empty());
    }
    assert_eq!(seen.len(), 13);
    assert_eq!(BuiltinKind::from_name("Trailing-Whitespace"), None);
    assert_eq!(BuiltinKind::from_name("nope"), None);
    assert_eq!(BuiltinKind::TrailingWhitespace.name(), "trailing-whitespace");
    assert_eq!(BuiltinKind::ShebangExecutable.name(), "shebang-executable");
}

#[test]
fn default_files_dimensions_and_text_only() {
    assert_eq!(BuiltinKind::Json.default_files(), &["*.json", "*.JSON", "*.geojson", "*.ipynb", "composer.lock"]);
    assert_eq!(
        BuiltinKind::Toml.default_files(),
        &["*.toml", "*.TOML", "Cargo.lock", "Pipfile", "poetry.lock", "uv.lock"]
    );
    assert_eq!(BuiltinKind::Yaml.default_files(), &["*.yaml", "*.yml", "*.YAML", "*.YML"]);
    assert_eq!(BuiltinKind::Secrets.default_files(), &["*"]);
    assert_eq!(BuiltinKind::TrailingWhitespace.default_dimension(), "format");
    assert_eq!(BuiltinKind::Json.default_dimension(), "syntax");
    assert_eq!(BuiltinKind::Secrets.default_dimension(), "security");
    assert_eq!(BuiltinKind::LargeFile.default_dimension(), "size");
    assert_eq!(BuiltinKind::ShebangExecutable.default_dimension(), "lint");
    let not_text_only: Vec<_> = BuiltinKind::ALL.into_iter().filter(|k| !k.text_only()).collect();
    assert_eq!(
        not_text_only,
        [
            BuiltinKind::MergeConflict,
            BuiltinKind::LargeFile,
            BuiltinKind::Json,
            BuiltinKind::Jsonc,
            BuiltinKind::Toml,
            BuiltinKind::Yaml,
            BuiltinKind::Secrets,
            BuiltinKind::ShebangExecutable
        ]
    );
}

#[test]
fn settings_default_and_partial_deserialize() {
    assert_eq!(BuiltinSettings::default().max_size, 512 * 1024);
    let s: BuiltinSettings = serde_json::from_str("{}").unwrap();
    assert_eq!(s, BuiltinSettings::default());
    let s: BuiltinSettings = serde_json::from_str(r#"{"max_size": 10}"#).unwrap();
    assert_eq!(s.max_size, 10);
}

// --------------------------------------------------------------- binary ----

#[test]
fn is_binary_looks_at_the_first_8000_bytes() {
    assert!(!is_binary(b""));
    assert!(!is_binary("plain text, ünïcode\n".as_bytes()));
    assert!(is_binary(b"\x7fELF\x02\x01\x01\0\0"));
    let mut late = vec![b'a'; 9000];
    late[8500] = 0;
    assert!(!is_binary(&late));
    late[7999] = 0;
    assert!(is_binary(&late));
}

#[test]
fn files_git_attributes_mark_generated_or_vendored_keep_their_layout() {
    let body = b"x = 1   \r\ny = 2\n\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----";
    let with = |kind: BuiltinKind, marks: FileMarks| {
        let input = BuiltinInput { marks, ..BuiltinInput::new(body) };
        check(kind, &BuiltinSettings::default(), &input)
    };
    let layout = [
        BuiltinKind::TrailingWhitespace,
        BuiltinKind::MarkdownTrailingWhitespace,
        BuiltinKind::FinalNewline,
        BuiltinKind::MixedLineEndings,
    ];
    let generated = FileMarks { generated: true, ..FileMarks::NONE };
    let vendored = FileMarks { vendored: true, ..FileMarks::NONE };
    for kind in layout {
        assert!(!with(kind, FileMarks::NONE).is_empty(), "{kind}: the body has findings unmarked");
        assert_eq!(with(kind, generated), [], "{kind}: linguist-generated");
        assert_eq!(with(kind, vendored), [], "{kind}: linguist-vendored");
    }
    // What is not layout is still judged: a key in vendored code is a key.
    assert_eq!(with(BuiltinKind::Secrets, vendored).len(), 1);
    assert_eq!(with(BuiltinKind::Secrets, generated).len(), 1);
    assert_eq!(FileMarks::NONE.bits(), 0);
    assert_ne!(generated.bits(), vendored.bits());
}

#[test]
fn editorconfig_settings_waive_only_the_checks_they_name() {
    // Trailing blanks, no final newline, a Latin-1 byte, a key.
    let body = b"caf\xe9 = 1   \n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----";
    let with = |kind: BuiltinKind, marks: FileMarks| {
        let input = BuiltinInput { marks, ..BuiltinInput::new(body) };
        check(kind, &BuiltinSettings::default(), &input)
    };
    let keeps = FileMarks { keeps_trailing_whitespace: true, ..FileMarks::NONE };
    let no_newline = FileMarks { no_final_newline: true, ..FileMarks::NONE };
    let latin1 = FileMarks { latin1: true, ..FileMarks::NONE };
    let all = FileMarks { keeps_trailing_whitespace: true, no_final_newline: true, latin1: true, ..FileMarks::NONE };
    let waived = [
        (BuiltinKind::TrailingWhitespace, keeps),
        (BuiltinKind::MarkdownTrailingWhitespace, keeps),
        (BuiltinKind::FinalNewline, no_newline),
        (BuiltinKind::Utf8, latin1),
    ];
    for (kind, mark) in waived {
        assert!(!with(kind, FileMarks::NONE).is_empty(), "{kind}: the body has findings unmarked");
        assert_eq!(with(kind, mark), [], "{kind}: waived by its setting");
        // Each setting waives its own check only.
        for (other, other_mark) in waived {
            if other_mark != mark {
                assert!(!with(kind, other_mark).is_empty(), "{kind} waived by {other}'s setting");
            }
        }
    }
    assert_eq!(with(BuiltinKind::Secrets, all).len(), 1);
    let bits: std::collections::HashSet<u64> =
        [FileMarks::NONE, keeps, no_newline, latin1, all].map(FileMarks::bits).into();
    assert_eq!(bits.len(), 5, "each setting is a mark of its own in the cache key");
}

#[test]
fn files_written_by_a_tool_keep_its_layout() {
    let layout = [
        BuiltinKind::TrailingWhitespace,
        BuiltinKind::MarkdownTrailingWhitespace,
        BuiltinKind::FinalNewline,
        BuiltinKind::MixedLineEndings,
    ];
    let body = "x = 1  \r\ny = 2\n\n";
    for header in [
        "// Code generated by protoc-gen-go. DO NOT EDIT.\n",
        "# Generated by the protocol buffer compiler.  DO NOT EDIT!\n",
        "% Generated by roxygen2: do not edit by hand\n",
        "/*\n * Copyright\n * @generated by tool\n */\n",
        "//------\n// <auto-generated>\n//     This code was generated by a tool.\n",
        "<!-- This file is generated; do not edit. -->\n",
        "%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n--- !u!1 &1\n",
        "fileFormatVersion: 2\nguid: 1f2e3d4c5b6a79881f2e3d4c5b6a7988\nuserData: \n",
        // EF Core's migrations begin with a byte order mark.
        "\u{feff}// <auto-generated />\n",
        "' <autogenerated>\n'     This code was generated by a tool.\n",
        "// GENERATED CODE - DO NOT MODIFY BY HAND\n",
        "// automatically generated by the FlatBuffers compiler, do not modify\n",
        "// DO NOT EDIT.\n// swift-format-ignore-file\n// swiftlint:disable all\n//\n// Generated by the Swift generator plugin\n",
        "/*\n * OpenAPI Petstore\n *\n * NOTE: This class is auto generated by OpenAPI Generator.\n * https://openapi-generator.tech\n * Do not edit the class manually.\n */\n",
        "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n",
        "/*\nCopyright 2024 The Kubernetes Authors.\n\nLicensed under the Apache License.\n*/\n\n// Code generated by client-gen. DO NOT EDIT.\n",
        "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n",
        "\"\"\"\n@generated by mypy-protobuf.  Do not edit manually!\n\"\"\"\n",
        "r\"\"\"\n    This code was generated by\n    NOTE: This class is auto generated by OpenAPI Generator.\n    Do not edit the class manually.\n\"\"\"\n",
        "# -*- coding: utf-8 -*-\n# File generated from our OpenAPI spec\n",
        "#!/bin/sh\n# WARNING: this file is autogenerated by make; do not edit.\n",
        "<!-- !!! DO NOT EDIT: generated by doc/changes/scripts/build_changelog.sh !!! -->\n",
        "/******/ (() => { // webpackBootstrap\n/******/ \tvar __webpack_modules__ = ({\n",
        // Generators' own signatures (a sixth audit's, byte for byte).
        "<?php\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n# source: helloworld.proto\n",
        "/* ----------------------------------------------------------------------------\n * This file was automatically generated by SWIG (https://www.swig.org).\n * Version 4.1.0\n *\n * Do not make changes to this file unless you know what you are doing - modify\n * the SWIG interface file instead.\n * ----------------------------------------------------------------------------- */\n",
        "/* Generated by Cython 3.3.1 */\n",
        "/* Generated by wayland-scanner 1.19.0 */\n\n#ifndef XDG_SHELL_CLIENT_PROTOCOL_H\n",
        "/* Generated by re2c */\n// Copyright 2011 Google Inc. All Rights Reserved.\n",
        "/* Generated by re2c 3.1 on Mon Jan  1 00:00:00 2024 */\n",
        "// Generated from Expr.g4 by ANTLR 4.7.2\n",
        "\n// Generated from Expr.g4 by ANTLR 4.13.1\n",
        "/****************************************************************************\n** Resource object code\n**\n** Created by: The Resource Compiler for Qt version 5.15.8\n**\n** WARNING! All changes made in this file will be lost!\n*****************************************************************************/\n",
        "# Makefile.in generated by automake 1.16.5 from Makefile.am.\n# @configure_input@\n",
        "#! /bin/sh\n# Guess values for system-dependent variables and create Makefiles.\n# Generated by GNU Autoconf 2.71 for hello 1.0.\n",
        "#line 2 \"lex.yy.c\"\n\n#line 4 \"lex.yy.c\"\n\n#define  YY_INT_ALIGNED short int\n\n/* A lexical scanner generated by flex */\n",
        // Go's marker, then a line about the package's generated files.
        "// Code generated by stringer. DO NOT EDIT.\n// To refresh the generated files, run go generate.\n",
        "#!/usr/bin/env php\n<?php\n// Code generated by x. DO NOT EDIT.\n",
        // Another repository's copy, synced over at each change there.
        "# This workflow is centrally managed in https://github.com/asyncapi/.github/\n# Don't make changes to this file in this repo as they will be overwritten\n",
        "/**\n * This code is centrally managed in https://github.com/asyncapi/.github/\n * Don't make changes to this file in this repo\n */\n",
        "# This file is synced from the `.github` repository, do not modify it directly.\n",
        // PHP's strict types declared first (PSR-12), on the tag's line or
        // the next (phpstan's `functionMetadata.php`).
        "<?php declare(strict_types = 1);\n\n/** GENERATED FILE - DO NOT EDIT! Regenerate with bin/generate.php */\n",
        "<?php\n\ndeclare(strict_types=1);\n\n// Code generated by x. DO NOT EDIT.\n",
        // kube-prometheus-stack's rules, which a script writes into Helm
        // templates.
        "{{- /*\nGenerated from 'etcd' group from https://github.com/etcd-io/etcd.git\nDo not change in-place! In order to change this file first read following link:\n*/ -}}\n",
        "{{/* Generated file. Do not edit. */}}\n",
        // AsciiDoc's comment block (RuboCop's cop pages, which a rake task
        // writes).
        "////\n  Do NOT edit this file by hand directly, as it is automatically generated.\n\n  Please make any necessary changes to the cop documentation within the source files themselves.\n////\n\n= Layout\n",
        "{\n  \"formatVersion\": 1,\n  \"database\": {\n    \"version\": 14,\n    \"identityHash\": \"51271b81bde7c7997d67fb23c8f31780\",\n",
        // After a page's front matter (cobra's pages in a Docusaurus site).
        "---\nid: ory-version\ntitle: ory version\n---\n\n<!-- This file is generated. Do not edit. -->\n",
        "+++\ntitle = \"x\"\n+++\n<!-- Code generated by gen. DO NOT EDIT. -->\n",
        // A YAML stream's first document marker is no front matter.
        "---\n# Code generated by controller-gen. DO NOT EDIT.\napiVersion: v1\n---\nkind: List\n",
        // Visual Studio's (a ninth audit's, byte for byte): a ResX resource
        // file's schema comment, the resource editor's script, a DataSet
        // designer's marker after an XML declaration.
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<root>\r\n  <!-- \r\n    Microsoft ResX Schema \r\n    \r\n    Version 2.0\r\n",
        "// Microsoft Visual C++ generated resource script.\r\n//\r\n#include \"resource.h\"\r\n",
        "//Microsoft Developer Studio generated resource script.\n//\n",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!--<autogenerated>\n     This code was generated by a tool.\n",
        // Man pages (a 41st session's audit: pandoc's own `pandoc.1`),
        // behind roff's comment leaders.
        ".\\\" Automatically generated by Pandoc 3.10.2\n.\\\"\n.TH \"pandoc\" \"1\"\n",
        ".\\\" -*- mode: troff; coding: utf-8 -*-\n.\\\" Automatically generated by Pod::Man 5.01 (Pod::Simple 3.45)\n",
        ".\\\" DO NOT MODIFY THIS FILE!  It was generated by help2man 1.49.3.\n.TH GREP \"1\"\n",
        "'\\\" t\n.\\\"     Title: git-add\n.\\\"    Author: [see the \"AUTHOR(S)\" section]\n.\\\" Generator: Asciidoctor 2.0.20\n",
        "'\\\" t\n.\\\"     Title: tig\n.\\\" Generator: DocBook XSL Stylesheets vsnapshot <http://docbook.sf.net/>\n",
        ".\\\" generated with Ronn-NG/v0.10.1\n.\\\" http://github.com/apjanke/ronn-ng/tree/0.10.1\n",
        ".\\\" generated with Ronn/v0.7.3\n",
        ".\\\" Automatically generated by Pod::Man v1.37, Pod::Parser v1.32\n",
        ".\\\" Man page generated from reStructuredText.\n.\n",
        // unicode.org's data files, committed as published (Elixir's
        // `lib/elixir/unicode/`), old and new headers.
        "# SpecialCasing-17.0.0.txt\n# Date: 2025-07-31, 22:11:55 GMT\n# \u{a9} 2025 Unicode\u{ae}, Inc.\n# For terms of use and license, see https://www.unicode.org/terms_of_use.html\n#\n",
        "# CaseFolding-12.1.0.txt\n# Date: 2019-03-10, 10:53:00 GMT\n# Copyright (c) 1991-2019 Unicode, Inc.\n# For terms of use, see http://www.unicode.org/terms_of_use.html\n",
    ] {
        for kind in layout {
            clean(kind, format!("{header}{body}").as_bytes());
        }
        // Other checks judge it as any file.
        assert!(
            !run(BuiltinKind::MergeConflict, format!("{header}<<<<<<< a\n=======\n>>>>>>> b\n").as_bytes()).is_empty()
        );
    }
    // The marker in a string (a generator's own source), not in a comment,
    // or one word of it alone, is no marker; nor is one past the header.
    for header in [
        "w.write(\"// Code generated by gen. DO NOT EDIT.\")\n".to_owned(),
        "# Do not edit this value unless you know why\n".to_owned(),
        "# generated config\n".to_owned(),
        format!("{}// Code generated by x. DO NOT EDIT.\n", "// license\n".repeat(400)),
        // Hand-written files that speak of generated ones: a section of a
        // guide, a Makefile's comment, a note after the code has begun, a
        // bullet, a linter's documentation of the marker.
        "# Notes\n\n## Generated Files - DO NOT EDIT\n".to_owned(),
        "# Regenerate the generated parser (do not edit parser.c by hand).\n".to_owned(),
        "import os\n# NOTE: schema.py is generated from schema.json -- do not edit it.\n".to_owned(),
        "* Files under gen/ are generated: do not edit them by hand\n".to_owned(),
        "// isGenerated reports whether a file has the \"// Code generated ... DO NOT EDIT.\" line.\n".to_owned(),
        "# Generated files; do not edit them, run make gen\n".to_owned(),
        "# Do not edit generated files by hand.\n".to_owned(),
        // A generator's name in a hand-written file's comment, not its
        // signature (which the generator's version follows).
        "# Generated by Cython is how we build it: see setup.py\n".to_owned(),
        "# Generated by wayland-scanner when the build runs: see meson.build\n".to_owned(),
        "# Files generated from the spec live in gen/: do not edit them.\n".to_owned(),
        "// Generated by re2c from lexer.in.cc: edit that.\n".to_owned(),
        // A copy that says where it comes from, and not that it must not
        // be edited here; a warning not to edit another file.
        "# This action is synced from https://github.com/prometheus/prometheus\n".to_owned(),
        "// This file is copied from the Go 1.13 release tree.\n// Do not make changes here without a reason.\n".to_owned(),
        "# DO NOT EDIT config.mk!! It will be overwritten by configure.\n".to_owned(),
        "# Our notes: this file is synced from upstream; do not edit it.\n".to_owned(),
        "# Build with flex: the scanner generated by flex is lex.yy.c\n".to_owned(),
        "// Parser generated from Expr.g4 by ANTLR: see build.gradle\n".to_owned(),
        // Front matter, then a hand-written page (its list items and
        // headings are no comments there).
        "---\ntitle: Code generation\n---\n# Code generation\n\n* Do not edit generated code by hand: run make gen.\n"
            .to_owned(),
        "---\ntitle: Codegen\n---\n\nOur generated files: do not edit them.\n".to_owned(),
        "---\ntitle: x\n\n# Code generated by x. DO NOT EDIT.\n".to_owned(),
        // Past `<?php`, the block must begin before the code does.
        "<?php\nnamespace App;\n// Code generated by x. DO NOT EDIT.\n".to_owned(),
        "<?php\ndeclare(strict_types=1);\nnamespace App;\n// Code generated by x. DO NOT EDIT.\n".to_owned(),
        "declare(strict_types=1);\n// Code generated by x. DO NOT EDIT.\n".to_owned(),
        // `<root>` counts only after an XML declaration, and the schema's
        // name only as its comment's first words.
        "<root>\n<!-- Microsoft ResX Schema -->\n".to_owned(),
        "<?xml version=\"1.0\"?>\n<root>\n<!-- Our notes on the Microsoft ResX Schema -->\n".to_owned(),
        "<?xml version=\"1.0\"?>\n<project>\n<!-- Microsoft ResX Schema -->\n".to_owned(),
        // Visual Studio 2003's hand-written form holds the designer's
        // region among its own code (the designer's files are left out by
        // name instead); an XML processing instruction is no declaration.
        "public class Form1 : Form\n{\n    #region Windows Form Designer generated code\n    #endregion\n".to_owned(),
        "<?xml-stylesheet href=\"s.xsl\"?>\n<root>\n<!-- Microsoft ResX Schema -->\n".to_owned(),
        // A C++ banner of slashes opens no AsciiDoc block: the code below
        // it is no comment.
        "////////////////\n// Widget\n////////////////\nint generated_do_not_edit = 0;\n// Generated. Do not edit.\n"
            .to_owned(),
        // Nor does a lone `////` no line closes: what follows is code.
        "////\n// widget\nconst HEADER = \"/** @generated */\\n\";\n".to_owned(),
        // A hand-written man page: a comment, and no generator's mark.
        ".\\\" Copyright (c) 2024 The Authors\n.\\\" Automatically generated pages live in gen/\n.TH X 1\n".to_owned(),
        // A project's own notes that link Unicode's terms, without a date;
        // a source file with a CVS `$Date$` keyword; a header quoted after
        // a line of the project's own.
        "# Our tables, derived from UCD data.\n# See https://www.unicode.org/terms_of_use.html\n".to_owned(),
        "/*\n * Normalizer.java\n * $Date: 2011/01/01 $\n * For terms of use, see http://www.unicode.org/terms_of_use.html\n */\n".to_owned(),
        "% Original Unicode file header comments follow\n% Blocks.txt\n% Date: 2019-01-01\n% For terms of use, see http://www.unicode.org/terms_of_use.html\n".to_owned(),
        "# Generated with Ronn, our notes say\n".to_owned(),
    ] {
        assert!(!run(BuiltinKind::TrailingWhitespace, format!("{header}{body}").as_bytes()).is_empty(), "{header}");
    }
}

#[test]
fn office_xml_parts_keep_the_layout_office_writes() {
    let layout = [BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline, BuiltinKind::MixedLineEndings];
    let lf = FileMarks { eol: Some(LineEnding::Lf), ..FileMarks::NONE };
    let with = |kind, content: &[u8]| marked(kind, lf, content);
    let body = "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t xml:space=\"preserve\">a </w:t></w:r></w:p></w:body></w:document>";
    for eol in ["\r\n", "\n"] {
        let part = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>{eol}{body}");
        for kind in layout {
            assert_eq!(with(kind, part.as_bytes()), [], "{kind} {eol:?}");
        }
    }
    // Not without `standalone="yes"`, nor on more lines, nor a short one.
    for part in [
        format!("<?xml version=\"1.0\"?>\r\n{body}"),
        format!("<?xml version=\"1.0\" standalone=\"yes\"?>\r\n{body}\r\n<!-- x -->"),
        "<?xml version=\"1.0\" standalone=\"yes\"?>\r\n<a/>".to_owned(),
    ] {
        assert!(!with(BuiltinKind::MixedLineEndings, part.as_bytes()).is_empty(), "{part}");
    }
}

#[test]
fn draw_io_diagrams_keep_the_editor_s_layout() {
    let one_line = b"<mxfile host=\"app.diagrams.net\" editor=\"www.draw.io\"><diagram>x</diagram></mxfile>";
    clean(BuiltinKind::FinalNewline, one_line);
    clean(
        BuiltinKind::FinalNewline,
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<mxfile host=\"x\">\n  <diagram/> \n</mxfile>",
    );
    clean(BuiltinKind::TrailingWhitespace, b"<mxfile>\n  <diagram/> \n</mxfile>");
    // A library of shapes, as Export Library writes it.
    clean(BuiltinKind::FinalNewline, b"<mxlibrary>[{\"xml\":\"x\",\"w\":40,\"h\":40,\"title\":\"a\"}]</mxlibrary>");
    // Other XML is judged.
    assert_eq!(run(BuiltinKind::FinalNewline, b"<?xml version=\"1.0\"?>\n<root>\n</root>").len(), 1);
}

#[test]
fn drawings_a_program_exported_keep_its_layout() {
    // tmux's logos: Sketch's SVG (its comment inside `<svg>`, no final
    // newline) and the EPS macOS's Quartz wrote (blank-ended lines).
    let sketch = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<svg width=\"10\" height=\"10\">\n    \
                  <!-- Generator: Sketch 3.3.1 (12005) - http://www.bohemiancoding.com/sketch -->\n    <title>x</title> \n</svg>";
    let illustrator = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- Generator: Adobe Illustrator 24.1.1, SVG Export Plug-In . \
                       SVG Version: 6.00 Build 0)  -->\n<svg>\n<g> \n</g>\n</svg>";
    let excalidraw =
        "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\">\n<!-- svg-source:excalidraw -->\n  <g/> \n</svg>";
    let eps = "%!PS-Adobe-3.0 EPSF-3.0\n%APLProducer: (Version 10.10.3 (Build 14D136)) Quartz PS Context\n\
               %%Creator: (Sketch)\n%%EndComments\n0 0 moveto \nshowpage \n";
    // textual's screenshots, from Rich's `save_svg`: with its comment,
    // and from before it wrote one.
    let rich = "<svg class=\"rich-terminal\" viewBox=\"0 0 10 10\" xmlns=\"http://www.w3.org/2000/svg\">\n    \
                <!-- Generated with Rich https://www.textualize.io -->\n    <style>\n\n    @font-face {\n    } \n</svg>";
    let older = "<svg class=\"rich-terminal\" viewBox=\"0 0 10 10\">\n    <style> \n</svg>";
    // SVG fonts: FontForge's (webpack's Roboto fixture), and one a font
    // tool that does not sign wrote.
    let fontforge = "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">\n<metadata>\n\
                     Created by FontForge 20170731 at Wed Mar 29 15:03:00 2017\n</metadata>\n<defs>\n  <glyph \nd=\"M0 0\" />\n";
    let font = "<svg xmlns=\"http://www.w3.org/2000/svg\">\n<defs>\n<font id=\"x\">\n  <font-face \n    units-per-em=\"1\"/>\n";
    // Sketch's export with its comment dropped (prometheus-operator's and
    // OpenRCT2's logos): its artboard's group.
    let artboard = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg width=\"512px\" height=\"512px\" version=\"1.1\">\n    \
                    <g id=\"logo\" stroke=\"none\" stroke-width=\"1\" fill=\"none\" fill-rule=\"evenodd\">\n        <path d=\"M0,0\"></path> \n    </g>\n</svg>";
    let yed = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n  \
               <!--Created by yEd 3.18.0.2-->\n  <key for=\"node\" id=\"d0\"/> \n</graphml>";
    // Its ids stripped too (bulma's `bulma-b.svg`); SVG Repo's downloads.
    let stripped = "<svg viewBox=\"0 0 10 10\">\n  <g stroke=\"none\" stroke-width=\"1\" fill=\"none\" fill-rule=\"evenodd\">\n    <path id=\"Path\" d=\"M0,0\"/> \n  </g>\n</svg>";
    let svg_repo = "<?xml version=\"1.0\" encoding=\"utf-8\"?><!-- Uploaded to: SVG Repo, www.svgrepo.com, Generator: SVG Repo Mixer Tools -->\n<svg width=\"800px\"><path d=\"M0 0\"/> \n</svg>";
    let transformed = "<!DOCTYPE svg>\n\n<!-- Uploaded to: SVG Repo, www.svgrepo.com, Transformed by: SVG Repo Mixer Tools -->\n<svg><path/> \n</svg>";
    for content in [
        sketch,
        illustrator,
        excalidraw,
        eps,
        rich,
        older,
        fontforge,
        font,
        artboard,
        yed,
        stripped,
        svg_repo,
        transformed,
    ] {
        for kind in [BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline] {
            clean(kind, content.as_bytes());
        }
    }
    // Rich's name elsewhere (a page that credits it) is no signature.
    let credit = "<html>\n<p>Generated with Rich </p> \n</html>\n";
    assert_eq!(run(BuiltinKind::TrailingWhitespace, credit.as_bytes()).len(), 1);
    // Inkscape's files are as often kept by hand; a PostScript program,
    // or an EPS that names no program, is judged; so is a comment of
    // Illustrator's past the header.
    let inkscape = "<?xml version=\"1.0\"?>\n<!-- Created with Inkscape (http://www.inkscape.org/) -->\n<svg>\n<g> \n</g>\n</svg>\n";
    let program = "%!PS-Adobe-3.0\n%%Creator: me\n%%EndComments\n0 0 moveto \nshowpage\n";
    let unnamed = "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n%%Creator: later\n0 0 moveto \n";
    let late =
        format!("<svg>\n<g> \n</g>\n{}<!-- Generator: Adobe Illustrator 24 -->\n</svg>\n", "<g/>\n".repeat(1000));
    // A style sheet's `@font-face` in an SVG, and FontForge named outside
    // markup (a CSS comment quoting it), are no signature.
    let styled = "<svg>\n<style>\n@font-face { } \n</style>\n</svg>\n";
    let quoted = "/* Created by FontForge 20120731 */\na { } \n";
    // Those attributes in another order, or on an element other than an
    // artboard's group, are written by hand as often.
    let by_hand = "<svg>\n<g id=\"a\" fill=\"none\" stroke=\"none\" stroke-width=\"1\" fill-rule=\"evenodd\">\n<path/> \n</g>\n</svg>\n";
    let path =
        "<svg>\n<path id=\"a\" stroke=\"none\" stroke-width=\"1\" fill=\"none\" fill-rule=\"evenodd\"/> \n</svg>\n";
    for content in [inkscape, program, unnamed, &late, styled, quoted, by_hand, path] {
        assert_eq!(run(BuiltinKind::TrailingWhitespace, content.as_bytes()).len(), 1, "{content}");
    }
}

#[test]
fn output_that_links_its_source_map_keeps_its_layout() {
    // dts-buddy's `index.d.ts`, tsc's output, a Sass build's sheet.
    for content in [
        &b"declare module 'x' {\n\texport const a: 1; \n}\n\n//# sourceMappingURL=index.d.ts.map"[..],
        b"var a = 1; \n//# sourceMappingURL=a.js.map\n",
        b"a { b: c; } \r\n/*# sourceMappingURL=a.css.map */\r\n",
        // webpack's CSS output closes the comment with no blank; an
        // indented link.
        b"a { b: c; }\n  \n  /*# sourceMappingURL=app.css.map*/",
    ] {
        for kind in [BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline] {
            clean(kind, content);
        }
    }
    // Not a link to no map, nor where the link is not the last line (a
    // file that speaks of one).
    assert_eq!(run(BuiltinKind::TrailingWhitespace, b"var a = 1; \n//# sourceMappingURL=x\n").len(), 1);
    assert_eq!(run(BuiltinKind::TrailingWhitespace, b"//# sourceMappingURL=a.js.map\nvar a = 1; \n").len(), 1);
}

#[test]
fn shebang_executable_leaves_what_no_kernel_runs_and_ansible_modules() {
    let sb = BuiltinKind::ShebangExecutable;
    // Ansible's Windows modules' marker, and its Python modules, which
    // Ansible runs with their interpreter on the target (its own sanity
    // test wants them not executable).
    clean(sb, b"#!powershell\n#Requires -Module Ansible.ModuleUtils.Legacy\n");
    clean(sb, b"#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\nmodule = AnsibleModule(argument_spec={})\n");
    clean(sb, b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n");
    // A module built on a helper class, or whose call comes after long
    // documentation: its documentation block names it.
    let doc = "#!/usr/bin/python\n# Copyright\n\nDOCUMENTATION = r'''\n---\nmodule: apache2_mod_proxy\nshort_description: x\n'''\n\nfrom ansible_collections.community.general.plugins.module_utils.module_helper import StateModuleHelper\n";
    clean(sb, doc.as_bytes());
    clean(sb, doc.replace("r'''", "\"\"\"").replace("\n'''\n", "\n\"\"\"\n").as_bytes());
    // A plugin's block names it `name:`; a script's docstring is no block.
    assert_eq!(run(sb, doc.replace("module: ", "name: ").as_bytes()).len(), 1);
    assert_eq!(run(sb, b"#!/usr/bin/python\n\"\"\"DOCUMENTATION\nmodule: x\n\"\"\"\n").len(), 1);
    // An inventory script imports `ansible.module_utils` too, and Ansible
    // runs it directly.
    assert_eq!(run(sb, b"#!/usr/bin/env python\nfrom ansible.module_utils import ec2 as ec2_utils\n").len(), 1);
    // A script is a script.
    assert_eq!(run(sb, b"#!/usr/bin/python\nimport os\n").len(), 1);
    assert_eq!(run(sb, b"#! /bin/sh\necho\n").len(), 1);
}

#[test]
fn generated_pages_say_so_in_their_head_or_at_their_foot() {
    let tw = BuiltinKind::TrailingWhitespace;
    let body = "<body>\n<p>text</p> \n</body>\n</html>\n";
    assert_eq!(run(tw, body.as_bytes()).len(), 1);
    for head in [
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"generator\" content=\"Hugo 0.120.4\">\n</head>\n",
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<META CONTENT=\"Doxygen 1.9.8\" NAME=\"Generator\"/>\n",
        "<html><head><meta name='generator' content='rustdoc'></head>\n",
    ] {
        clean(tw, format!("{head}{body}").as_bytes());
    }
    clean(
        tw,
        format!("<!DOCTYPE html>\n{body}<p>Generated by <a class=\"link\" href=\"https://github.com/realm/jazzy\" target=\"_blank\">jazzy \u{266a}\u{266b} v0.15.4</a></p>\n").as_bytes(),
    );
    // A page that only speaks of a generator, or whose meta tag is another.
    for head in [
        "<!DOCTYPE html>\n<head>\n<meta name=\"description\" content=\"a generator\">\n",
        "<p>The generator: <code>name=\"generator\"</code></p>\n",
        "# meta\n<meta name=\"generator\">\n",
        // A generator's own templates: Hugo's, WordPress', eleventy's.
        "<head>\n<meta name=\"generator\" content=\"Hugo {{ hugo.Version }}\">\n",
        "<head>\n<meta name=\"generator\" content=\"WordPress <?php bloginfo('version'); ?>\" />\n",
        "<head>\n<!-- <meta name=\"generator\" content=\"Eleventy\"> -->\n",
        "<!doctype html>\n<head>\n<meta name=\"generator\" content={Astro.generator} />\n",
    ] {
        assert_eq!(run(tw, format!("{head}{body}").as_bytes()).len(), 1, "{head}");
    }
}

#[test]
fn cobra_signs_its_pages_at_the_foot() {
    let tw = BuiltinKind::MarkdownTrailingWhitespace;
    clean(tw, b"## app version\n\nPrint the version \n\n###### Auto generated by spf13/cobra on 2-Jan-2006\n");
    assert_eq!(run(tw, b"## app version\n\nPrint the version \n\n###### Auto generated\n").len(), 1);
}

#[test]
fn git_format_patch_ends_with_its_signature_and_a_blank_line() {
    let fnl = BuiltinKind::FinalNewline;
    let patch = "From 1 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] add\n\n---\n+hi\n-- \n2.41.0\n";
    clean(fnl, format!("{patch}\n").as_bytes());
    clean(fnl, patch.as_bytes());
    // Two blank lines are one too many; and a blank line after anything else.
    assert_eq!(run(fnl, format!("{patch}\n\n").as_bytes()).len(), 1);
    assert_eq!(run(fnl, b"+hi\n-- \nregards\n\n").len(), 1);
    assert_eq!(run(fnl, b"Hello\n-- \n2024 Jane Doe\n\n").len(), 1);
    clean(fnl, b"+hi\n-- \n2.39.3 (Apple Git-146)\n\n");
    // A build's version, and forges' patch views (buildroot's downloaded
    // patches): GitLab's, cgit's, some with `--` alone.
    clean(fnl, b"+hi\n-- \n2.41.0.640.ga95def55d0-goog\n\n");
    clean(fnl, b"+hi\n-- \nGitLab\n\n");
    clean(fnl, b"+hi\n-- \ncgit v1.2.3\n\n");
    clean(fnl, b"+hi\n--\ncgit 1.2.3-korg\n\n");
    for end in ["-- \nGitLab\n\n\n", "-- \ncgit\n\n", "-- \nGitLab Inc.\n\n", "---\n2.41.0\n\n", "-- \n-2.41\n\n"] {
        assert_eq!(run(fnl, format!("+hi\n{end}").as_bytes()).len(), 1, "{end:?}");
    }
}

#[test]
fn a_source_map_link_may_end_a_file_without_a_newline() {
    let fnl = BuiltinKind::FinalNewline;
    clean(fnl, b"\"use strict\";\nexports.x = 1;\n//# sourceMappingURL=lib.js.map");
    clean(fnl, b"a{color:red}\n/*# sourceMappingURL=a.css.map */");
    clean(fnl, "\u{feff}//# sourceMappingURL=a.js.map".as_bytes());
    // A blank line after it is still reported, and so is a file whose last
    // line is something else.
    assert_eq!(run(fnl, b"x;\n//# sourceMappingURL=lib.js.map\n\n").len(), 1);
    assert_eq!(run(fnl, b"//# sourceMappingURL=lib.js.map\nx;").len(), 1);
}

#[test]
fn a_one_line_svg_is_minified() {
    let fnl = BuiltinKind::FinalNewline;
    clean(fnl, b"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"><path d=\"M0 0h1v1H0z\"/></svg>");
    clean(fnl, b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>");
    // Any XML on one line (a sitemap), and an SVG on its last line after
    // its prolog's (diagrams.net's and Illustrator's exports).
    clean(fnl, b"<?xml version=\"1.0\"?><urlset><url><loc>https://example.com/</loc></url></urlset>");
    clean(
        fnl,
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Do not edit this file with editors other than diagrams.net -->\n\
          <!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"svg11.dtd\">\n<svg width=\"10\"><rect/></svg>",
    );
    clean(fnl, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<svg id=\"Layer_1\"><rect/></svg>");
    clean(fnl, b"<?xml version=\"1.0\"?>\r<!-- c -->\r<svg xmlns=\"x\"><rect/></svg>");
    // On several lines, or not markup, it is written by hand.
    assert_eq!(run(fnl, b"<svg>\n  <path/>\n</svg>").len(), 1);
    assert_eq!(run(fnl, b"<?xml version=\"1.0\"?>\n<svg>\n<path/></svg>").len(), 1);
    assert_eq!(run(fnl, b"<?xml version=\"1.0\"?>\n<plist><dict/></plist>").len(), 1);
    assert_eq!(run(fnl, b"1.2.3").len(), 1);
    // A JSON object or array on one line: `JSON.stringify`'s output.
    clean(fnl, b"{\"type\":\"FeatureCollection\",\"features\":[]}");
    clean(fnl, b"\xEF\xBB\xBF[1,2,{\"a\":[]}]");
    // Only JSON: an INI section, a shell group, a Markdown link, invalid
    // JSON on one line are written by hand.
    for hand in [&b"[core]"[..], b"{ echo hi; }", b"[TODO]", b"{\"a\": 1,}"] {
        assert_eq!(run(fnl, hand).len(), 1, "{}", String::from_utf8_lossy(hand));
    }
    // On several lines, or not closed on its line, it is not.
    assert_eq!(run(fnl, b"{\n  \"a\": 1\n}").len(), 1);
    assert_eq!(run(fnl, b"{\"a\": 1").len(), 1);
    assert_eq!(run(fnl, b"[x] done").len(), 1);
}

#[test]
fn a_pdf_is_binary_without_a_nul_early() {
    // laravel's blank_document.pdf: its binary-marker comment, then objects
    // and a cross-reference table whose entries end in a blank.
    let pdf =
        b"%PDF-1.4\n%\xD3\xEB\xE9\xE1\n1 0 obj\n<</Type /Catalog>>\nendobj\nxref\n0 1\n0000000000 65535 f \ntrailer";
    assert!(is_binary(pdf));
    for kind in BuiltinKind::ALL.into_iter().filter(|k| k.text_only()) {
        clean(kind, pdf);
    }
    // Only at the start: text quoting a header is text.
    assert!(!is_binary(b"The header is %PDF-1.4.\n"));
    assert!(!is_binary(b"%PDF"));
    // Images by their signature, a damaged one with no NUL too.
    for image in [
        &b"GIF89a\x10\x10\x80\xff\xff\xff,\r\n;"[..],
        b"GIF87a\x01\x01",
        b"\x89PNG\r\n\x1a\nIHDR",
        b"\xff\xd8\xff\xe0JFIF",
        // A FITS header's cards, and a `compress` stream.
        b"SIMPLE  =                    T / conforms to FITS standard      BITPIX  =                    8",
        b"\x1f\x9d\x90#include <stdio.h>",
    ] {
        assert!(is_binary(image), "{image:?}");
    }
    assert!(!is_binary(b"GIF89 is a format.\n") && !is_binary(b"PNG\r\n"));
    assert!(!is_binary(b"SIMPLE = T\n") && !is_binary(b"SIMPLE  is the word\n"));
    // Behind a GIF header, a text file's keys and conflict markers are
    // still read (a PHP polyglot); its layout is not judged.
    let poly = b"GIF89a;\n<?php \naws_access_key_id = AKIAQWERTYUIOPASDFGH\n<<<<<<< HEAD\na\n=======\nb\n>>>>>>> b\n";
    assert_eq!(run(BuiltinKind::Secrets, poly).len(), 1);
    assert_eq!(run(BuiltinKind::MergeConflict, poly).len(), 3);
    assert!(run(BuiltinKind::TrailingWhitespace, poly).is_empty());
}

#[test]
fn text_only_checks_skip_binary_content() {
    let binary = b"\0\xFF trailing \r\n<<<<<<< HEAD\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nlast";
    for kind in BuiltinKind::ALL.into_iter().filter(|k| k.text_only()) {
        clean(kind, binary);
    }
    // These two read binary content only when it is UTF-16 or UTF-32 text.
    clean(BuiltinKind::MergeConflict, binary);
    clean(BuiltinKind::Secrets, binary);
    // The same content without the NUL is reported by them.
    let text = &binary[1..];
    for kind in
        [BuiltinKind::Utf8, BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline, BuiltinKind::MergeConflict]
    {
        assert!(!run(kind, text).is_empty(), "{kind} should report the text version");
    }
    // A NUL in a .json file is a syntax error, not a reason to skip.
    assert!(!run(BuiltinKind::Json, b"{\"a\": \0}").is_empty());
}

/// `text` in UTF-16 (little- or big-endian) after its byte order mark, as
/// Notepad's "Unicode" and Windows PowerShell 5's `>` write it.
fn utf16(text: &str, big: bool) -> Vec<u8> {
    let mut out: Vec<u8> = if big { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
    for unit in text.encode_utf16() {
        out.extend(if big { unit.to_be_bytes() } else { unit.to_le_bytes() });
    }
    out
}

#[test]
fn a_key_or_a_conflict_in_a_utf16_file_is_found_where_it_is() {
    let text = "# d\u{e9}ploiement\r\n$k = @'\r\n-----BEGIN RSA PRIVATE KEY-----\r\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\r\n\
                -----END RSA PRIVATE KEY-----\r\n'@\r\n<<<<<<< HEAD\r\na\r\n=======\r\nb\r\n>>>>>>> other\r\n";
    for big in [false, true] {
        let bytes = utf16(text, big);
        assert!(is_binary(&bytes), "its zero bytes make it binary to git");
        let secrets = run(BuiltinKind::Secrets, &bytes);
        assert_eq!(positions(&secrets), [(3, 1)], "{secrets:?}");
        let conflicts = run(BuiltinKind::MergeConflict, &bytes);
        assert_eq!(positions(&conflicts), [(7, 1), (9, 1), (11, 1)], "{conflicts:?}");
        // The byte-wise checks still leave it alone (its line endings and
        // blanks are two bytes each).
        for kind in [BuiltinKind::Utf8, BuiltinKind::TrailingWhitespace, BuiltinKind::MixedLineEndings] {
            assert_eq!(run(kind, &bytes), [], "{kind}");
        }
    }
    // UTF-32, likewise.
    let mut utf32 = vec![0xFF, 0xFE, 0, 0];
    for c in "x\n<<<<<<< HEAD\n".chars() {
        utf32.extend((c as u32).to_le_bytes());
    }
    assert_eq!(positions(&run(BuiltinKind::MergeConflict, &utf32)), [(2, 1)]);
    // Binary content that begins as a mark would does not decode: a zero
    // unit, a stray surrogate, an odd length.
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n";
    let mut nul = utf16(key, false);
    nul.extend([0, 0]);
    let mut surrogate = utf16(key, false);
    surrogate.extend([0x00, 0xD8, 0x41, 0x00]);
    let mut odd = utf16(key, false);
    odd.push(0x41);
    for bytes in [nul, surrogate, odd] {
        assert_eq!(run(BuiltinKind::Secrets, &bytes), []);
    }
    assert_eq!(positions(&run(BuiltinKind::Secrets, &utf16(key, false))), [(1, 1)]);
}

#[test]
fn a_file_binary_only_by_a_mark_is_still_read_for_keys_and_conflicts() {
    // git's `binary`, or an EditorConfig `charset = utf-16le` its bytes
    // are not in: the content is text.
    let body = b"<<<<<<< HEAD\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\nx \n";
    assert_eq!(run(BuiltinKind::TrailingWhitespace, body).len(), 1);
    let marked = BuiltinInput { binary: true, ..BuiltinInput::new(body) };
    let with = |kind| check(kind, &BuiltinSettings::default(), &marked);
    assert_eq!(with(BuiltinKind::Secrets).len(), 1);
    assert_eq!(with(BuiltinKind::MergeConflict).len(), 1);
    assert_eq!(with(BuiltinKind::TrailingWhitespace), []);
}

#[test]
fn utf16_text_is_named_where_utf8_is_wanted() {
    // Chinese in UTF-16LE has no zero byte (a line break would): it reads
    // as (invalid) text.
    let bytes = utf16("\u{4e2d}\u{6587}", false);
    assert!(!is_binary(&bytes));
    let found = run(BuiltinKind::Utf8, &bytes);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, "not UTF-8: the file begins with a byte order mark of UTF-16LE");
    let json = run(BuiltinKind::Json, &utf16("{\"a\": 1}\n", true));
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].message, "the file is UTF-16BE (it begins with that byte order mark); JSON must be UTF-8");
    // Without the mark, as before.
    assert_eq!(run(BuiltinKind::Utf8, b"a\xff")[0].message, "invalid UTF-8 at byte offset 1 (byte 0xFF)");
}

// -------------------------------------------------------------- locator ----

#[test]
fn locator_counts_lines_and_character_columns() {
    let content = "ab\nçé€x\n\nlast".as_bytes();
    let mut loc = Locator::new(content);
    assert_eq!(loc.locate(0), (1, 1));
    assert_eq!(loc.locate(1), (1, 2));
    assert_eq!(loc.locate(2), (1, 3)); // the newline itself
    let x = content.iter().position(|&b| b == b'x').unwrap();
    assert_eq!(loc.locate(x), (2, 4)); // ç é € are one column each
    assert_eq!(loc.locate(x + 2), (3, 1));
    assert_eq!(loc.locate(content.len()), (4, 5));
    // Going backwards restarts from the top and is still right.
    assert_eq!(loc.locate(x), (2, 4));
    assert_eq!(loc.locate(3), (2, 1));
    // Offsets past the end are clamped.
    assert_eq!(loc.locate(content.len() + 10), (4, 5));
}

#[test]
fn files_with_old_mac_line_endings_are_located_by_carriage_returns() {
    let mut loc = Locator::new(b"a\rb\rc");
    assert_eq!((loc.locate(2), loc.locate(4)), ((2, 1), (3, 1)));
    // With any `\n`, a `\r` is only a character (mixed-line-endings says so).
    let mut loc = Locator::new(b"a\rb\nc");
    assert_eq!((loc.locate(2), loc.locate(4)), ((1, 3), (2, 1)));
    // Through a check.
    let f = one(BuiltinKind::Secrets, b"x\ry\r-----BEGIN RSA PRIVATE KEY-----\rMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\r");
    assert_eq!(at(&f).0, 3);
}

#[test]
fn the_line_checks_take_lines_ended_by_cr_in_files_of_old_mac_line_endings() {
    let findings = run(BuiltinKind::TrailingWhitespace, b"ok\rtrailing \rlast\t");
    assert_eq!(positions(&findings), [(2, 9), (3, 5)]);
    clean(BuiltinKind::FinalNewline, b"a\rb\r");
    let f = one(BuiltinKind::FinalNewline, b"a\rb\r\r\r");
    assert_eq!((at(&f), f.message.as_str()), ((3, 1), "file ends with 2 blank lines"));
    assert_eq!(one(BuiltinKind::FinalNewline, b"a\rb").message, "file does not end with a newline");
    let findings = run(BuiltinKind::MergeConflict, b"a\r<<<<<<< HEAD\rx\r=======\ry\r>>>>>>> b\r");
    assert_eq!(positions(&findings), [(2, 1), (4, 1), (6, 1)]);
    // With any `\n`, a lone `\r` is no line break for them either.
    clean(BuiltinKind::TrailingWhitespace, b"a \rb\n");
}

#[test]
fn locator_skips_the_bom_and_counts_bytes_on_invalid_lines() {
    let content = format!("{BOM_STR}aé b").into_bytes();
    let mut loc = Locator::new(&content);
    assert_eq!(loc.locate(0), (1, 1));
    assert_eq!(loc.locate(3), (1, 1)); // 'a'
    assert_eq!(loc.locate(7), (1, 4)); // 'b' after a, é, space
    let invalid = b"ok\na\xFF\xFEbc";
    let mut loc = Locator::new(invalid);
    assert_eq!(loc.locate(4), (2, 2));
    assert_eq!(loc.locate(7), (2, 5)); // bytes: a ff fe b -> 'c' is the 5th byte
    assert_eq!(Locator::line_start(invalid, 1), 0);
    assert_eq!(Locator::line_start(invalid, 2), 3);
    assert_eq!(Locator::line_start(invalid, 9), invalid.len());
}

// ------------------------------------------------------------------ cap ----

#[test]
fn findings_are_capped_at_100_plus_a_summary() {
    let content = "x \n".repeat(1000);
    let findings = run(BuiltinKind::TrailingWhitespace, content.as_bytes());
    assert_eq!(findings.len(), MAX_FINDINGS + 1);
    assert_eq!(at(&findings[0]), (1, 2));
    assert_eq!(at(&findings[99]), (100, 2));
    let last = findings.last().unwrap();
    assert!(last.message.starts_with("… and 900 more"), "{}", last.message);
    assert_eq!(last.line, None);
    assert_eq!(last.severity, Severity::Error);
    // verdict's own note, which SARIF writes as a notification.
    assert_eq!(last.rule.as_deref(), Some(crate::outcome::NOTICE_MORE));
    assert!(last.is_notice() && !findings[0].is_notice());
    // Exactly at the cap: no summary.
    let content = "x \n".repeat(100);
    let findings = run(BuiltinKind::TrailingWhitespace, content.as_bytes());
    assert_eq!(findings.len(), 100);
    assert!(!findings.last().unwrap().message.starts_with('…'));
}

#[test]
fn a_million_bad_lines_are_quick_and_capped() {
    let content = "a\t\n".repeat(1_000_000);
    let findings = quick(|| run(BuiltinKind::TrailingWhitespace, content.as_bytes()));
    assert_eq!(findings.len(), 101);
    assert!(findings[100].message.contains("999900 more"), "{}", findings[100].message);
}

// ------------------------------------------------------------------ utf8 ----

#[test]
fn utf8_accepts_valid_text_bom_and_empty() {
    clean(BuiltinKind::Utf8, b"");
    clean(BuiltinKind::Utf8, "héllo wörld € 𝄞\n".as_bytes());
    clean(BuiltinKind::Utf8, format!("{BOM_STR}text\r\n").as_bytes());
}

#[test]
fn utf8_reports_the_first_invalid_byte() {
    let f = one(BuiltinKind::Utf8, b"ok\nh\xC3\xA9\xFFx\xFF\n");
    assert_eq!(at(&f), (2, 3)); // h, é, then the bad byte
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("byte offset 6"), "{}", f.message);
    assert!(f.message.contains("0xFF"), "{}", f.message);
}

#[test]
fn utf8_reports_a_truncated_sequence_and_ignores_the_bom_in_columns() {
    let f = one(BuiltinKind::Utf8, b"abc\xE2\x82");
    assert_eq!(at(&f), (1, 4));
    assert!(f.message.contains("truncated"), "{}", f.message);
    let mut content = BOM.to_vec();
    content.extend_from_slice(b"a\xC0");
    assert_eq!(at(&one(BuiltinKind::Utf8, &content)), (1, 2));
}

#[test]
fn utf8_ten_megabyte_line() {
    let mut content = "é".repeat(TEN_MB / 2).into_bytes();
    content.push(0xFF);
    let f = quick(|| one(BuiltinKind::Utf8, &content));
    assert_eq!(at(&f), (1, (TEN_MB / 2 + 1) as u32));
}

// --------------------------------------------------- trailing-whitespace ----

#[test]
fn trailing_whitespace_found_per_line() {
    let findings = run(BuiltinKind::TrailingWhitespace, b"a \nb\n\tc\t\t\nd \t \n   \n");
    assert_eq!(positions(&findings), [(1, 2), (3, 3), (4, 2), (5, 1)]);
    assert_eq!(findings[0].message, "trailing whitespace (1 space)");
    assert_eq!(findings[1].message, "trailing whitespace (2 tabs)");
    assert_eq!(findings[2].message, "trailing whitespace (2 spaces, 1 tab)");
    assert!(findings.iter().all(|f| f.severity == Severity::Error));
}

#[test]
fn trailing_whitespace_clean() {
    clean(BuiltinKind::TrailingWhitespace, b"");
    clean(BuiltinKind::TrailingWhitespace, b"\n\n");
    clean(BuiltinKind::TrailingWhitespace, b"  indented\n\tcode\nno newline");
    clean(BuiltinKind::TrailingWhitespace, b"crlf\r\nlines\r\n\r\n");
}

#[test]
fn trailing_whitespace_crlf_last_line_and_character_columns() {
    // The CR of CRLF is not whitespace, the blank before it is.
    let f = one(BuiltinKind::TrailingWhitespace, b"ok\r\nbad \r\n");
    assert_eq!(at(&f), (2, 4));
    // The last line without a newline is checked too.
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, b"x\ny  ")), (2, 2));
    // Columns count characters, and the BOM is not one.
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, "héé  \n".as_bytes())), (1, 4));
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, format!("{BOM_STR}ab \n").as_bytes())), (1, 3));
}

#[test]
fn trailing_whitespace_leaves_a_transcripts_output_as_printed() {
    let tw = BuiltinKind::TrailingWhitespace;
    // dune's cram test: an empty output line is two spaces, `x = ` is what
    // the command printed; the block ends at a line not indented by two.
    let cram = b"Prose.\n\n  $ printf 'a\\n\\nb\\n'\n  a\n  \n  b\n  $ echo 'x = '\n  x = \n  $ cat <<EOF\n  > one\n  > EOF\n  one\n";
    clean(tw, cram);
    clean(tw, b"  $ echo 'x '\r\n  x \r\n");
    clean(tw, b"  $ printf 'y '\n  y ");
    // The commands, their `  >` lines and everything outside a block are
    // still checked: prose, a line indented by two after a blank line.
    let findings = run(tw, b"Prose. \n  $ ls \n  > more \n  out \n\n  not output \n");
    let lines: Vec<_> = findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [Some(1), Some(2), Some(3), Some(6)], "{findings:?}");
    // An empty line of a here-document is `  > `, as dune writes it at
    // each promotion (and as cram needs it); `  >  ` (two blanks), a
    // continuation with text and blanks after it, and `  > ` outside a
    // command's block are still reported.
    clean(tw, b"  $ cat > f <<EOF\n  > a\n  > \n  > b\n  > EOF\n");
    let findings = run(tw, b"  $ cat <<EOF\n  >  \n  > a \n  > EOF\n\n  > \n");
    let lines: Vec<_> = findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [Some(2), Some(3), Some(6)], "{findings:?}");
    // Without a command line, an indented line is no output.
    assert_eq!(run(tw, b"text\n  indented \n").len(), 1);
    // A Perl test (`t/basic.t`) has no `  $ ` line: checked as any file.
    assert_eq!(run(tw, b"use Test::More;\n  my $x = 1; \n").len(), 1);
}

#[test]
fn trailing_whitespace_leaves_a_diff_s_hunks_to_the_diff() {
    let tw = BuiltinKind::TrailingWhitespace;
    // A test's expected `git log -p` output (git's t4211): an empty line of
    // context is one space.
    let log = b"commit 1\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@ fn main\n a\n \n-b\n+c\n";
    clean(tw, log);
    clean(tw, b"@@ -1,2 +1,2 @@\r\n \r\n-x\r\n+y\r\n");
    clean(tw, b"@@ -1,2 +1,2 @@\n \n-a\n+b\n\\ No newline at end of file\n");
    // Any other blank in a hunk may be an author's (a document's example):
    // reported, as are blanks before it, after its counted lines, and in a
    // hunk whose lines do not add up (not one).
    let findings = run(tw, b"text \n@@ -1,2 +1,2 @@\n a\n-b\n+c \n d\n \nafter \n");
    let lines: Vec<_> = findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [Some(1), Some(5), Some(7), Some(8)], "{findings:?}");
    assert_eq!(run(tw, b"@@ -1,3 +1,3 @@\n a\n \nprose\n").len(), 1);
    assert_eq!(run(tw, b"@@ -1,x +1 @@\n \n").len(), 1);
    // Indented with its lines (a diff in a YAML block scalar, flutter's
    // `codelab_rebuild.yaml`; a reStructuredText `code-block`): a line of
    // the indent and one space is the empty context line.
    clean(tw, b"patch-u: |\n  @@ -1,3 +1,3 @@\n   a\n   \n  -b\n  +c\n");
    // A line of another indent there, or lines that leave the indent, are
    // not the hunk's.
    assert_eq!(run(tw, b"  @@ -1,2 +1,2 @@\n   a\n    \n").len(), 1);
    assert_eq!(run(tw, b"    @@ -1,2 +1,2 @@\n a\n \n").len(), 1);
}

#[test]
fn trailing_whitespace_reports_markdown_hard_breaks() {
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, b"line one  \nline two\n")), (1, 9));
}

#[test]
fn markdown_trailing_whitespace_allows_hard_line_breaks_only() {
    let md = BuiltinKind::MarkdownTrailingWhitespace;
    let trailing = BuiltinKind::TrailingWhitespace.default_exclude();
    assert_eq!(&trailing[..md.default_files().len()], md.default_files());
    let expected_output = md.default_exclude();
    for part in [
        &["*.patch", "*.diff"][..],
        &expected_output,
        &["*.min.js", "*.min.css"],
        &["*.[cC][sS][vV]", "*.[tT][sS][vV]"],
    ] {
        assert!(part.iter().all(|p| trailing.contains(p)), "{part:?}");
    }
    // Licence texts keep their blanks and ends, not their line endings.
    let but_licences: Vec<&str> = expected_output.iter().copied().filter(|p| !LICENCE_TEXTS.contains(p)).collect();
    assert_eq!(
        BuiltinKind::MixedLineEndings.default_exclude(),
        [&["*.patch", "*.diff"][..], &but_licences, &["*.eml", "*.mbox", "*.mboxrd", "*.mbx"], MODEL_FILES].concat()
    );
    assert!(md.default_files().contains(&"*.md") && expected_output.contains(&"*.snap"));
    // Two spaces before a line of the same paragraph: a hard line break, in
    // every line ending.
    clean(md, b"Roses are red,  \nviolets are blue.\n");
    clean(md, b"one  \r\ntwo  \r\nthree\r\n");
    clean(md, b"one  \rtwo\r");
    clean(md, b"- item  \n  continued\n");
    clean(md, b"end  \nno newline");
    // What renders nothing is reported as by trailing-whitespace: one space,
    // three, a tab, two before a tab, a blank line of two spaces, two at a
    // paragraph's end (before a blank line or the end of the file).
    let content = b"a \nb   \nc\t\nd\t  \n  \npara end  \n\nlast  \n";
    let findings = run(md, content);
    assert_eq!(positions(&findings), [(1, 2), (2, 2), (3, 2), (4, 2), (5, 1), (6, 9), (8, 5)]);
    assert_eq!(findings[1].message, "trailing whitespace (3 spaces)");
    assert_eq!(positions(&findings), positions(&run(BuiltinKind::TrailingWhitespace, content)));
    assert_eq!(at(&one(md, b"x\ny  ")), (2, 2));
    assert_eq!(positions(&run(md, b"x  \n \t \n")), [(1, 2), (2, 1)], "a line of blanks is blank");
    assert_eq!(at(&one(md, b"x  \r\n\r\ny\r\n")), (1, 2));
    // A byte order mark is nothing on its line; a heading's blanks are not
    // part of it (a `#` that begins no heading is text).
    assert_eq!(at(&one(md, b"\xEF\xBB\xBF  \nb\n")), (1, 1));
    clean(md, b"\xEF\xBB\xBFa  \nb\n");
    assert_eq!(at(&one(md, b"# Title  \ntext\n")), (1, 8));
    assert_eq!(at(&one(md, b"   ###### Six  \ntext\n")), (1, 14));
    clean(md, b"#hashtag  \ntext\n");
    clean(md, b"####### seven  \ntext\n");
    clean(md, b"    # code  \ntext\n");
}

/// An invalid sequence counts as one character, as an editor shows it
/// (one U+FFFD each).
#[test]
fn columns_after_invalid_utf8_count_each_invalid_sequence_as_one_character() {
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, b"\xFF\xFEab \n")), (1, 5));
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, b"\xC3\xA9\xFF \n")), (1, 3));
    // A truncated sequence is one; a valid character after it counts once.
    assert_eq!(at(&one(BuiltinKind::TrailingWhitespace, b"\xE2\x82\xC3\xA9 \n")), (1, 3));
    let f = one(BuiltinKind::MixedLineEndings, b"a\r\nb\r\n\xC3\xA9\xFFc\n");
    assert_eq!(at(&f), (3, 4));
    // Counted on from an earlier position on the same line, and afresh.
    let content = b"\xFF\xC3\xA9\xFEx y\n";
    let mut locator = Locator::new(content);
    assert_eq!(locator.locate(3), (1, 3));
    assert_eq!(locator.locate(6), (1, 6));
    assert_eq!(Locator::new(content).locate(6), (1, 6));
}

#[test]
fn trailing_whitespace_ten_megabyte_line() {
    let mut content = vec![b'a'; TEN_MB];
    content.push(b' ');
    let f = quick(|| one(BuiltinKind::TrailingWhitespace, &content));
    assert_eq!(at(&f), (1, TEN_MB as u32 + 1));
}

// ---------------------------------------------------------- final-newline ----

#[test]
fn final_newline_missing() {
    let f = one(BuiltinKind::FinalNewline, "a\nbé".as_bytes());
    assert_eq!(at(&f), (2, 3)); // just past the last character
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.message, "file does not end with a newline");
    assert_eq!(at(&one(BuiltinKind::FinalNewline, b"x")), (1, 2));
    assert_eq!(at(&one(BuiltinKind::FinalNewline, b"a\r\nb\r")), (2, 3));
}

#[test]
fn final_newline_clean() {
    clean(BuiltinKind::FinalNewline, b"");
    clean(BuiltinKind::FinalNewline, b"a\n");
    clean(BuiltinKind::FinalNewline, b"a\r\nb\r\n");
    clean(BuiltinKind::FinalNewline, b"a\n\nb\n"); // blank lines in the middle are fine
    // A whitespace-only last line is not blank here (trailing-whitespace reports it).
    clean(BuiltinKind::FinalNewline, b"a\n  \n");
    clean(BuiltinKind::FinalNewline, format!("{BOM_STR}x\n").as_bytes());
}

#[test]
fn final_newline_trailing_blank_lines() {
    let f = one(BuiltinKind::FinalNewline, b"a\nb\n\n\n");
    assert_eq!(at(&f), (3, 1));
    assert_eq!(f.message, "file ends with 2 blank lines");
    assert_eq!(f.severity, Severity::Warning);
    let f = one(BuiltinKind::FinalNewline, b"a\r\n\r\n");
    assert_eq!(at(&f), (2, 1));
    assert_eq!(f.message, "file ends with 1 blank line");
    let f = one(BuiltinKind::FinalNewline, b"\n\n");
    assert_eq!(at(&f), (1, 1));
    assert_eq!(f.message, "file contains only 2 blank lines");
}

#[test]
fn final_newline_ten_megabyte_line() {
    let content = vec![b'z'; TEN_MB];
    let f = quick(|| one(BuiltinKind::FinalNewline, &content));
    assert_eq!(at(&f), (1, TEN_MB as u32 + 1));
}

// --------------------------------------------------------- merge-conflict ----

const CONFLICT: &str = "\
fn main() {
<<<<<<< HEAD
    ours();
||||||| base
    base();
=======
    theirs();
>>>>>>> feature/x
}
";

#[test]
fn merge_conflict_reports_every_marker_in_order() {
    let findings = run(BuiltinKind::MergeConflict, CONFLICT.as_bytes());
    assert_eq!(positions(&findings), [(2, 1), (4, 1), (6, 1), (8, 1)]);
    assert!(findings[0].message.contains("<<<<<<<"));
    assert!(findings[1].message.contains("|||||||"));
    assert!(findings[2].message.contains("======="));
    assert!(findings[3].message.contains(">>>>>>>"));
    assert!(findings.iter().all(|f| f.severity == Severity::Error && f.rule.as_deref() == Some("merge-conflict")));
}

#[test]
fn merge_conflict_crlf_and_unlabelled_markers() {
    let findings = run(BuiltinKind::MergeConflict, b"<<<<<<<\r\na\r\n=======\r\nb\r\n>>>>>>> theirs\r\n");
    assert_eq!(positions(&findings), [(1, 1), (3, 1), (5, 1)]);
    // A marker on the last line, without a newline.
    let findings = run(BuiltinKind::MergeConflict, b"<<<<<<< a\n=======\n>>>>>>> b");
    assert_eq!(positions(&findings), [(1, 1), (2, 1), (3, 1)]);
}

#[test]
fn merge_conflict_markers_have_the_length_git_s_conflict_marker_size_gives() {
    // git's `Documentation/git-merge.adoc` shows a conflict of seven-wide
    // markers, and sets `conflict-marker-size=32`: text, until a merge
    // writes markers of 32.
    let marks = FileMarks { conflict_marker_size: Some(32), ..FileMarks::NONE };
    let with = |content: &[u8]| marked(BuiltinKind::MergeConflict, marks, content);
    assert_eq!(with(CONFLICT.as_bytes()), []);
    let wide = CONFLICT.replace("<<<<<<<", &"<".repeat(32)).replace("|||||||", &"|".repeat(32));
    let wide = wide.replace("=======", &"=".repeat(32)).replace(">>>>>>>", &">".repeat(32));
    assert_eq!(positions(&with(wide.as_bytes())), [(2, 1), (4, 1), (6, 1), (8, 1)]);
    // Shorter than seven, too (no quick look for seven then).
    let marks = FileMarks { conflict_marker_size: Some(3), ..FileMarks::NONE };
    let found = marked(BuiltinKind::MergeConflict, marks, b"<<< a\nx\n===\ny\n>>> b\n<<<<<<< no\n");
    assert_eq!(positions(&found), [(1, 1), (3, 1), (5, 1)]);
    assert_ne!(FileMarks { conflict_marker_size: Some(32), ..FileMarks::NONE }.bits() >> 16, 0);
    // The message shows the marker as long as the file's are.
    let found = with(wide.as_bytes());
    assert_eq!(found[0].message, format!("merge conflict marker `{}` (start of a conflict)", "<".repeat(32)));
}

#[test]
fn final_newline_leaves_a_test_s_one_line_file_as_the_test_compares_it() {
    // Rails' `actionview/test/fixtures/test/hello_world.erb` is
    // `Hello world!`, and `render` must give exactly that.
    for path in [
        &b"actionview/test/fixtures/test/hello_world.erb"[..],
        b"tests/data/x",
        b"spec/fixtures/a.html",
        b"src/__tests__/out.txt",
        b"Tests/Fixtures/a.txt",
    ] {
        assert!(in_test_dir(path), "{}", String::from_utf8_lossy(path));
    }
    for path in [&b"test"[..], b"src/test.rb", b"testing/a", b"contest/a", b"lib/spec.rb", b"TESTS/a", b"Tests.cs"] {
        assert!(!in_test_dir(path), "{}", String::from_utf8_lossy(path));
    }
    let marks = FileMarks { in_tests: true, ..FileMarks::NONE };
    let with = |content: &[u8]| marked(BuiltinKind::FinalNewline, marks, content);
    assert_eq!(with(b"Hello world!"), []);
    // More than one line: judged as any file's.
    assert_eq!(positions(&with(b"<h1>\nHello</h1>")), [(2, 11)]);
    assert_eq!(with(b"a\n\n").len(), 1);
    assert_eq!(run(BuiltinKind::FinalNewline, b"Hello world!").len(), 1);
    assert_ne!(marks.bits(), 0);
}

#[test]
fn final_newline_leaves_blank_lines_at_the_end_where_git_s_whitespace_does() {
    let marks = FileMarks { blank_lines_at_end: true, ..FileMarks::NONE };
    let with = |content: &[u8]| marked(BuiltinKind::FinalNewline, marks, content);
    assert_eq!(with(b"a\n\n\n"), []);
    assert_eq!(with(b"\n"), []);
    // Its last line still ends.
    assert_eq!(positions(&with(b"a\nb")), [(2, 2)]);
    assert_eq!(run(BuiltinKind::FinalNewline, b"a\n\n").len(), 1);
    assert_ne!(marks.bits(), 0);
    // Where trailing blanks are the file's (`whitespace=-blank-at-eol`, an
    // EditorConfig `trim_trailing_whitespace = false`), a line of blanks at
    // the end is a blank line, as git's `blank-at-eof` counts it; nothing
    // else would report it.
    let keeps = FileMarks { keeps_trailing_whitespace: true, ..FileMarks::NONE };
    let found = marked(BuiltinKind::FinalNewline, keeps, b"a \n \n\t\n");
    assert_eq!((positions(&found), found[0].message.as_str()), (vec![(2, 1)], "file ends with 2 blank lines"));
    assert_eq!(positions(&marked(BuiltinKind::FinalNewline, keeps, b"a\r\n  \r\n")), [(2, 1)]);
    assert!(marked(BuiltinKind::FinalNewline, keeps, b"a \nb \n").is_empty());
    // Otherwise it is trailing-whitespace's.
    assert!(run(BuiltinKind::FinalNewline, b"a\n \n").is_empty());
}

#[test]
fn merge_conflict_clean() {
    clean(BuiltinKind::MergeConflict, b"");
    // reStructuredText headings and tables, not conflicts.
    clean(BuiltinKind::MergeConflict, b"Title\n=======\n\ntext\n|||||||\n");
    // Longer runs and markers not at the start of a line are not markers.
    clean(BuiltinKind::MergeConflict, b"<<<<<<<<<< arrows\n x <<<<<<< y\n>>>>>>>>\n=======\n");
    clean(BuiltinKind::MergeConflict, b"a << b\nc >> d\n");
}

#[test]
fn merge_conflict_separator_only_counts_inside_a_conflict() {
    // An opening marker with no closing one: the opening is reported, the
    // separator (maybe a heading underline) is not.
    let findings = run(BuiltinKind::MergeConflict, b"<<<<<<< HEAD\nTitle\n=======\n");
    assert_eq!(positions(&findings), [(1, 1)]);
    // A separator after a closed conflict is not part of it.
    let findings = run(BuiltinKind::MergeConflict, b"<<<<<<< a\n=======\n>>>>>>> b\nTitle\n=======\n");
    assert_eq!(positions(&findings), [(1, 1), (2, 1), (3, 1)]);
    // A lone closing marker is still reported.
    assert_eq!(at(&one(BuiltinKind::MergeConflict, b"x\n>>>>>>> theirs\n")), (2, 1));
}

#[test]
fn merge_conflict_nested_conflicts_report_every_separator_in_order() {
    // A recursive merge's conflict inside a conflict (diff3 style): the
    // outer separators count, before and after the inner conflict.
    let nested =
        b"<<<<<<< ours\na\n||||||| base\n<<<<<<< inner\nb\n=======\nc\n>>>>>>> inner\n=======\nd\n>>>>>>> theirs\n";
    let findings = run(BuiltinKind::MergeConflict, nested);
    assert_eq!(positions(&findings), [(1, 1), (3, 1), (4, 1), (6, 1), (8, 1), (9, 1), (11, 1)]);
    // A stray opening marker does not swallow a later conflict's separator,
    // and underlines after the last closing marker stay unreported.
    let stray = b"<<<<<<< stray\nx\n<<<<<<< a\n=======\n>>>>>>> b\nTitle\n=======\n";
    assert_eq!(positions(&run(BuiltinKind::MergeConflict, stray)), [(1, 1), (3, 1), (4, 1), (5, 1)]);
}

#[test]
fn merge_conflict_ten_megabyte_line() {
    let mut content = vec![b'<'; TEN_MB]; // contains the prefilter's needle everywhere
    content.extend_from_slice(b"\n>>>>>>> end\n");
    let findings = quick(|| run(BuiltinKind::MergeConflict, &content));
    assert_eq!(positions(&findings), [(2, 1)]);
}

// ----------------------------------------------------- mixed-line-endings ----

#[test]
fn mixed_line_endings_reports_counts_and_first_minority() {
    let f = one(BuiltinKind::MixedLineEndings, b"a\r\nb\r\nc\nd\r\n");
    assert_eq!(at(&f), (3, 2));
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("1 LF") && f.message.contains("3 CRLF"), "{}", f.message);
    assert!(f.message.contains("first LF"), "{}", f.message);
    assert!(!f.message.contains(" CR,") && !f.message.contains("0 "), "{}", f.message);
}

#[test]
fn mixed_line_endings_lone_cr_and_ties() {
    let f = one(BuiltinKind::MixedLineEndings, b"a\nb\rc\nd\n");
    assert_eq!(at(&f), (2, 2));
    assert!(f.message.contains("1 CR") && f.message.contains("3 LF"), "{}", f.message);
    assert!(f.message.ends_with("most lines end with LF"), "{}", f.message);
    // A tie goes to LF: the first CRLF is the minority, and no majority is
    // claimed.
    let f = one(BuiltinKind::MixedLineEndings, b"x\ny\r\n");
    assert_eq!(at(&f), (2, 2));
    assert!(f.message.contains("first CRLF"), "{}", f.message);
    assert!(f.message.ends_with("no kind of ending is the most common (LF taken as the file's)"), "{}", f.message);
}

#[test]
fn mixed_line_endings_clean() {
    clean(BuiltinKind::MixedLineEndings, b"");
    clean(BuiltinKind::MixedLineEndings, b"a\nb\nc");
    clean(BuiltinKind::MixedLineEndings, b"a\r\nb\r\n");
    clean(BuiltinKind::MixedLineEndings, b"a\rb\rc\r");
    clean(BuiltinKind::MixedLineEndings, format!("{BOM_STR}a\r\n").as_bytes());
}

#[test]
fn delimited_records_keep_line_breaks_in_quoted_fields() {
    let delimited = |content: &[u8]| {
        let input =
            BuiltinInput { marks: FileMarks { delimited: true, ..FileMarks::NONE }, ..BuiltinInput::new(content) };
        check(BuiltinKind::MixedLineEndings, &BuiltinSettings::default(), &input)
    };
    // A spreadsheet's export: CRLF records, LF within a cell (also after
    // a doubled quote, in a `;`-separated or tab-separated field).
    let excel = b"id,note\r\n1,\"two\nlines\"\r\n2,\"say \"\"hi\"\"\nthen\nbye\"\r\n3;\"x\ny\"\r\n4\t\"a\nb\"\r\n";
    assert_eq!(delimited(excel), []);
    // The same bytes in a file not named as records: the LFs count (5
    // of each: a tie, which goes to LF).
    assert_eq!(positions(&run(BuiltinKind::MixedLineEndings, excel)), [(1, 8)]);
    // Outside quotes, endings still count: the LF ending record 2.
    let f = delimited(b"a,\"x\ny\"\r\nb,c\nd,e\r\n");
    assert_eq!(positions(&f), [(3, 4)]);
    assert!(f[0].message.contains("1 LF") && f[0].message.contains("2 CRLF"), "{}", f[0].message);
    // A quote within an unquoted field is data, and opens nothing.
    assert_eq!(delimited(b"size,5\" pipe\r\nx,\"y\nz\"\r\nw,v\r\n"), []);
    // A quote left open: not such records, every ending counts.
    let f = delimited(b"a,\"open\r\nb\nc\r\n");
    assert_eq!(positions(&f), [(2, 2)]);
    // Excel's "CSV UTF-8" begins with a byte order mark: the first
    // field's quote still opens it.
    assert_eq!(delimited(b"\xEF\xBB\xBF\"multi\nline head\",b\r\n1,2\r\n3,4\r\n"), []);
    // Text after a closing quote: not records (a stray quote would
    // otherwise pair with a later one and hide the LF between them).
    let f = delimited(b"a,\"\r\nb,c\nd,\"e\"x\r\nf,g\r\n");
    assert_eq!(positions(&f), [(2, 4)]);
    assert_eq!(delimited(b"a,\"x\ny\"|b\r\nc,\"\"\r\n"), []);
    // Blanks may pad a quoted field before its delimiter or line break.
    assert_eq!(delimited(b"\"name\" ,\"note\"\r\n\"x\" ,\"line1\nline2\"\t\r\n\"y\" ,\"z\"\r\n"), []);
    assert_eq!(delimited(b"\"a\"\t\"b\nc\"\r\nd\r\n"), []);
    assert_eq!(positions(&delimited(b"a,\"x\" \"y\nz\"\r\nb\r\nc\r\n")), [(1, 9)]);
    // Of the kinds not the majority's, the earliest first ending: a lone CR
    // before the first LF.
    let f = delimited(b"a\r\nb\rc\r\nd\ne\r\nf\r\n");
    assert_eq!(positions(&f), [(2, 2)]);
    assert!(f[0].message.contains("first CR ending"), "{}", f[0].message);
    // Only CR within quotes: nothing mixed.
    assert_eq!(delimited(b"a,\"x\ry\"\nb,c\n"), []);
    assert!(is_delimited_name(b"data/Export.CSV") && is_delimited_name(b"t.tsv") && is_delimited_name(b"a/b/x.csv"));
    // As the default excludes' globs match: `*.[cC][sS][vV]` takes `.csv`.
    assert!(is_delimited_name(b".csv") && is_delimited_name(b"a/.tsv") && is_delimited_name(b"X.Csv"));
    assert!(!is_delimited_name(b"x.csvx") && !is_delimited_name(b"sv"));
    assert!(!is_delimited_name(b"x.csv/y") && !is_delimited_name(b"csv"));
    assert_ne!(FileMarks { delimited: true, ..FileMarks::NONE }.bits(), 0);
}

/// sphinx-quickstart's `make.bat`, CRLF as cmd.exe wants it, under a
/// project's `[*] end_of_line = lf` (celery's, aiohttp's).
#[test]
fn a_batch_file_in_crlf_throughout_passes_an_end_of_line_of_lf() {
    assert!(is_batch_name(b"docs/make.bat") && is_batch_name(b"RUN.CMD") && !is_batch_name(b"a.batch"));
    let wanting = |batch: bool, git_eol: GitEol, content: &[u8]| {
        let marks = FileMarks { eol: Some(LineEnding::Lf), git_eol, batch, ..FileMarks::NONE };
        let input = BuiltinInput { marks, ..BuiltinInput::new(content) };
        check(BuiltinKind::MixedLineEndings, &BuiltinSettings::default(), &input).len()
    };
    let crlf = b"@ECHO OFF\r\n:help\r\ngoto end\r\n";
    assert_eq!(wanting(true, GitEol::AsStored, crlf), 0);
    assert_eq!(wanting(false, GitEol::AsStored, crlf), 1, "any other file is asked for LF");
    // Mixed, LF throughout (what was set), or git writing LF: as before.
    assert_eq!(wanting(true, GitEol::AsStored, b"a\r\nb\n"), 1);
    assert_eq!(wanting(true, GitEol::AsStored, b"a\nb\n"), 0);
    let git_lf = GitEol::Set { ending: LineEnding::Lf, auto: false };
    assert_eq!(wanting(true, git_lf, crlf), 1);
    assert_ne!(FileMarks { batch: true, ..FileMarks::NONE }.bits(), FileMarks::NONE.bits());
}

#[test]
fn end_of_line_wants_every_ending_to_be_the_one_set() {
    let wanting = |eol: Option<LineEnding>, git_eol: GitEol, delimited: bool, content: &[u8]| {
        let marks = FileMarks { eol, git_eol, delimited, ..FileMarks::NONE };
        check(
            BuiltinKind::MixedLineEndings,
            &BuiltinSettings::default(),
            &BuiltinInput { marks, ..BuiltinInput::new(content) },
        )
    };
    let (lf, crlf, cr) = (Some(LineEnding::Lf), Some(LineEnding::CrLf), Some(LineEnding::Cr));
    // One kind only, but not the one set: the first ending.
    let f = wanting(lf, GitEol::AsStored, false, b"a\r\nb\r\n");
    assert_eq!(positions(&f), [(1, 2)]);
    assert_eq!(f[0].message, "CRLF line ending, where .editorconfig sets end_of_line = lf (2 CRLF)");
    let f = wanting(crlf, GitEol::AsStored, false, b"a\nb\nc");
    assert_eq!(positions(&f), [(1, 2)]);
    assert_eq!(f[0].message, "LF line ending, where .editorconfig sets end_of_line = crlf (2 LF)");
    // (Where a file has an LF, a CR is a character on its line.)
    let f = wanting(cr, GitEol::AsStored, false, b"a\rb\r\n");
    assert_eq!(positions(&f), [(1, 4)]);
    // Mixed: the first ending that is not the one set, even where it is
    // the majority's kind (without the setting, the minority's).
    let mixed = b"a\r\nb\nc\nd\n";
    assert_eq!(positions(&run(BuiltinKind::MixedLineEndings, mixed)), [(1, 2)]);
    assert_eq!(positions(&wanting(crlf, GitEol::AsStored, false, mixed)), [(2, 2)]);
    assert_eq!(positions(&wanting(lf, GitEol::AsStored, false, mixed)), [(1, 2)]);
    // The ending set throughout, or no ending at all: nothing.
    assert_eq!(wanting(lf, GitEol::AsStored, false, b"a\nb\n"), []);
    assert_eq!(wanting(crlf, GitEol::AsStored, false, b"a\r\nb\r\n"), []);
    assert_eq!(wanting(cr, GitEol::AsStored, false, b"a\rb\r"), []);
    assert_eq!(wanting(crlf, GitEol::AsStored, false, b"no ending"), []);
    assert_eq!(wanting(crlf, GitEol::AsStored, false, b""), []);
    // git's `eol` decides where the two differ, and says so; alone it
    // asks nothing.
    let set = |ending| GitEol::Set { ending, auto: false };
    let (git_lf, git_crlf) = (set(LineEnding::Lf), set(LineEnding::CrLf));
    let native = GitEol::Native { auto: false };
    let f = wanting(lf, git_crlf, false, b"a\r\nb\n");
    assert_eq!(positions(&f), [(2, 2)]);
    assert_eq!(f[0].message, "LF line ending, where git's attributes give it eol=crlf (1 LF, 1 CRLF)");
    assert_eq!(wanting(lf, git_lf, false, b"a\nb\n"), []);
    assert_eq!(positions(&wanting(lf, git_lf, false, b"a\r\n")), [(1, 2)]);
    assert_eq!(wanting(None, git_crlf, false, b"a\nb\n"), []);
    // Where git writes this machine's ending (LF), `end_of_line = crlf` is
    // for other machines: only a mix is a finding. `lf` still asks.
    assert_eq!(wanting(crlf, native, false, b"a\nb\n"), []);
    assert_eq!(wanting(crlf, native, false, b"a\r\nb\r\n"), []);
    assert_eq!(positions(&wanting(crlf, native, false, b"a\r\nb\r\nc\n")), [(3, 2)]);
    assert_eq!(positions(&wanting(lf, native, false, b"a\r\n")), [(1, 2)]);
    // Under `text=auto`, content git takes for binary (a lone CR, many
    // control characters) is written as stored: EditorConfig's ending is
    // wanted as it is.
    let auto = |ending| GitEol::Set { ending, auto: true };
    let cr_file = b"a\rb\r";
    assert_eq!(positions(&wanting(cr, auto(LineEnding::CrLf), false, cr_file)), []);
    assert_eq!(positions(&wanting(cr, set(LineEnding::CrLf), false, cr_file)), [(1, 2)]);
    assert_eq!(positions(&wanting(crlf, GitEol::Native { auto: true }, false, b"a\rb\nc\n")), [(1, 2)]);
    assert_eq!(wanting(crlf, GitEol::Native { auto: true }, false, b"a\nb\n"), []);
    // Text to git under `auto`: git's ending is wanted.
    assert_eq!(positions(&wanting(lf, auto(LineEnding::CrLf), false, b"a\nb\r\n")), [(1, 2)]);
    assert!(!git_takes_for_binary(b"a\r\nb\t\x1b[0m\x0c\x08\n\x1a"));
    assert!(git_takes_for_binary(b"a\rb") && git_takes_for_binary(b"a\0b"));
    let mut controls = vec![b'x'; 128];
    controls.extend_from_slice(b"\x01\x02");
    assert!(git_takes_for_binary(&controls) && !git_takes_for_binary(&controls[..129]));
    // Records: a quoted field's line breaks are data.
    assert_eq!(wanting(crlf, GitEol::AsStored, true, b"a,\"x\ny\"\r\nb,c\r\n"), []);
    // Also in records with no CR at all.
    assert_eq!(wanting(crlf, GitEol::AsStored, true, b"\"a\nb\",c"), []);
    let f = wanting(crlf, GitEol::AsStored, true, b"h1,h2\n\"a\nb\",c\n");
    assert_eq!(positions(&f), [(1, 6)]);
    assert!(f[0].message.ends_with("(2 LF)"), "{}", f[0].message);
    assert_eq!(positions(&wanting(lf, GitEol::AsStored, true, b"a,\"x\ny\"\r\nb,c\r\n")), [(2, 3)]);
    // Generated files' layout is their tool's, as for a mix.
    let generated = FileMarks { eol: lf, generated: true, ..FileMarks::NONE };
    let input = BuiltinInput { marks: generated, ..BuiltinInput::new(b"a\r\n") };
    assert_eq!(check(BuiltinKind::MixedLineEndings, &BuiltinSettings::default(), &input), []);
    // Each setting keys a cached verdict of its own; git's only with one.
    let bits = |eol, git_eol| FileMarks { eol, git_eol, ..FileMarks::NONE }.bits();
    let all = [
        bits(lf, GitEol::AsStored),
        bits(crlf, GitEol::AsStored),
        bits(cr, GitEol::AsStored),
        bits(lf, git_crlf),
        bits(crlf, git_lf),
        bits(lf, git_lf),
        bits(lf, native),
        bits(crlf, native),
    ];
    assert_eq!(all.iter().collect::<std::collections::HashSet<_>>().len(), all.len());
    assert_eq!(bits(None, git_crlf), 0);
    assert_eq!(bits(None, native), 0);
}

#[test]
fn minified_scripts_and_style_sheets_keep_their_layout() {
    let as_js = |kind, content: &[u8], js_or_css| {
        let input = BuiltinInput { marks: FileMarks { js_or_css, ..FileMarks::NONE }, ..BuiltinInput::new(content) };
        check(kind, &BuiltinSettings::default(), &input)
    };
    // A bundle: a license comment, then one long line, a blank kept in a
    // template literal, and no final newline.
    let mut bundle = b"/*! lib v1 | MIT */\n".to_vec();
    bundle.extend_from_slice(b"var e=Object.defineProperty;".repeat(40).as_slice());
    bundle.extend_from_slice(b"let t=`a \nb`");
    for kind in [BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline] {
        assert_eq!(as_js(kind, &bundle, true), [], "{kind}");
        // Named otherwise (a `.txt`, a Markdown page of long lines): judged.
        assert_eq!(as_js(kind, &bundle, false).len(), 1, "{kind}");
    }
    // Code written by hand, lines of a usual length: judged.
    let code = b"function f() {\n  return 1; \n}";
    assert_eq!(as_js(BuiltinKind::TrailingWhitespace, code, true).len(), 1);
    assert_eq!(as_js(BuiltinKind::FinalNewline, code, true).len(), 1);
    // Not layout: a key in a bundle is still one.
    let mut keyed = bundle.clone();
    keyed.extend_from_slice(b";k='AKIAQWERTYUIOPABCDEF'");
    assert_eq!(as_js(BuiltinKind::Secrets, &keyed, true).len(), 1);
    assert!(is_minified(&bundle) && !is_minified(code) && !is_minified(b""));
    assert!(is_minified(&[b'x'; 600]) && !is_minified(&[b'x'; 110]));
    // Hand-written: a one-line `@import` of 118 bytes; a sheet of one rule
    // a line, 118 bytes each.
    let import = format!("@import url(\"https://fonts.example/css2?family={}\");", "a".repeat(70));
    assert!(!is_minified(import.as_bytes()));
    let rule = format!(".c {{ {} }}\n", "color: red; ".repeat(9));
    assert!(!is_minified(rule.repeat(40).as_bytes()));
    // Linguist's average leaves the line breaks out, and counts one line
    // more than there are breaks: 40 lines of 106 bytes and a 600-byte one
    // average 118.
    let mut sheet = format!("{}\r\n", "y".repeat(106)).repeat(40);
    sheet.push_str(&"z".repeat(600));
    assert!(is_minified(sheet.as_bytes()));
    sheet.push_str(&format!("{}\n", "\n".repeat(5)));
    assert!(!is_minified(sheet.as_bytes()), "47 lines now: 4,840 bytes average 102");
    for name in [&b"dist/app.js"[..], b"a.MJS", b"yarn-4.1.cjs", b"s/site.Css"] {
        assert!(is_js_or_css_name(name), "{}", String::from_utf8_lossy(name));
    }
    for name in [&b"a.json"[..], b"x.jsx", b"js", b"a.scss", b"app.js.map"] {
        assert!(!is_js_or_css_name(name), "{}", String::from_utf8_lossy(name));
    }
    let marked = FileMarks { js_or_css: true, ..FileMarks::NONE };
    assert!(marked.bits() != 0 && marked.bits() != FileMarks { delimited: true, ..FileMarks::NONE }.bits());
}

#[test]
fn mixed_line_endings_ten_megabyte_line() {
    let mut content = vec![b'q'; TEN_MB];
    content.extend_from_slice(b"\r\nx\n");
    let f = quick(|| one(BuiltinKind::MixedLineEndings, &content));
    assert_eq!(at(&f), (1, TEN_MB as u32 + 1));
}

// -------------------------------------------------------------- large-file ----

#[test]
fn large_file_uses_the_size() {
    let settings = BuiltinSettings { max_size: 1000 };
    let over = BuiltinInput { content: b"", size: 1001, executable: false, binary: false, marks: FileMarks::NONE };
    let findings = check(BuiltinKind::LargeFile, &settings, &over);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].line, None);
    assert!(
        findings[0].message.contains("1001 bytes") && findings[0].message.contains("1000 bytes"),
        "{}",
        findings[0].message
    );
    assert!(findings[0].message.contains(", 1 byte over the limit of"), "{}", findings[0].message);
    let at_limit = BuiltinInput { content: b"", size: 1000, executable: false, binary: false, marks: FileMarks::NONE };
    assert!(check(BuiltinKind::LargeFile, &settings, &at_limit).is_empty());
    // Rounded, the two sizes read the same; how much over does not.
    let settings = BuiltinSettings { max_size: 512 * 1024 };
    let just_over =
        BuiltinInput { content: b"", size: 512 * 1024 + 100, executable: false, binary: false, marks: FileMarks::NONE };
    let said = &check(BuiltinKind::LargeFile, &settings, &just_over)[0].message;
    assert_eq!(said, "file is 524388 bytes (512.1 KiB), 100 bytes over the limit of 524288 bytes (512.0 KiB)");
    // The default is 512 KiB; binary content does not matter.
    let big =
        BuiltinInput { content: b"\0\0", size: 600 * 1024, executable: false, binary: true, marks: FileMarks::NONE };
    let findings = check(BuiltinKind::LargeFile, &BuiltinSettings::default(), &big);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].message.contains("600.0 KiB") && findings[0].message.contains("512.0 KiB"),
        "{}",
        findings[0].message
    );
    clean(BuiltinKind::LargeFile, b"");
}

// -------------------------------------------------------------------- json ----

#[test]
fn json_valid() {
    clean(BuiltinKind::Json, br#"{"a": [1, -2.5e3, null, true, false, "x\"y\u00e9"], "b": {"c": {}}}"#);
    clean(BuiltinKind::Json, b"[]\r\n");
    clean(BuiltinKind::Json, b"\"just a string\"");
    clean(BuiltinKind::Json, format!("{BOM_STR}{{\"a\": 1}}\n").as_bytes());
    // The same key in different objects is fine.
    clean(BuiltinKind::Json, br#"[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]"#);
}

#[test]
fn json_empty_is_an_error() {
    let f = one(BuiltinKind::Json, b"");
    assert_eq!(f.message, "empty JSON document");
    assert_eq!(at(&f), (1, 1));
    assert_eq!(one(BuiltinKind::Json, b"  \n\t\n").message, "empty JSON document");
    assert_eq!(one(BuiltinKind::Json, BOM).message, "empty JSON document");
}

#[test]
fn json_syntax_error_position_and_message() {
    let f = one(BuiltinKind::Json, b"{\n  \"a\": 1,\n  \"b\": ,\n}\n");
    assert_eq!(at(&f), (3, 8));
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.starts_with("expected value"), "{}", f.message);
    assert!(!f.message.contains("line"), "position is not repeated: {}", f.message);
    // Trailing commas and trailing content are errors.
    // A trailing comma is located at the comma, not at the bracket after it.
    assert_eq!(at(&one(BuiltinKind::Json, b"[1, 2,]")), (1, 6));
    let f = one(BuiltinKind::Json, b"{\n  \"a\": 1,\n  \"b\": 2,\r\n\t\n}\n");
    assert_eq!((at(&f), f.message.starts_with("trailing comma")), ((3, 9), true), "{}", f.message);
    assert!(f.message.contains("`jsonc` check"), "{}", f.message);
    // A misspelt literal or a bare word, at its start, in plain words.
    for (content, column) in [(&b"foo"[..], 1), (b"[tru]", 2), (b"{\"a\": nul}", 7), (b"[1, True]", 5)] {
        let f = one(BuiltinKind::Json, content);
        assert_eq!(at(&f), (1, column), "{}", String::from_utf8_lossy(content));
        assert!(f.message.starts_with("not a JSON value: the literals are true, false and null"), "{}", f.message);
    }
    let f = one(BuiltinKind::Json, b"{}\n{}\n");
    assert_eq!(at(&f), (2, 1));
    assert!(f.message.contains("trailing characters"), "{}", f.message);
    // A value per line (`go test -json`'s output) is said to be JSON Lines.
    for lines in [&b"{\"Action\":\"run\"}\n{\"Action\":\"pass\"}\n"[..], b"[1]\r\n  [2]\n"] {
        let f = one(BuiltinKind::Json, lines);
        assert_eq!(at(&f).0, 2);
        assert!(f.message.contains("a second JSON value") && f.message.contains("*.jsonl"), "{}", f.message);
    }
    // Not a value on the same line, nor other trailing text.
    for other in [&b"{} {}\n"[..], b"{}\nx\n", b"{}\n1\n"] {
        let f = one(BuiltinKind::Json, other);
        assert!(!f.message.contains("JSON Lines"), "{other:?}: {}", f.message);
    }
}

/// An error at a line feed (a string left open, a literal cut short) is on
/// the line that feed ends, where a CRLF file has it too, not at the start
/// of the next.
#[test]
fn json_errors_at_the_end_of_a_line_are_on_that_line() {
    let open_string = one(BuiltinKind::Json, b"{\n  \"name\": \"verdict,\n  \"version\": \"1.0\"\n}\n");
    assert_eq!(at(&open_string), (2, 20), "{}", open_string.message);
    let crlf = one(BuiltinKind::Json, b"{\r\n  \"name\": \"verdict,\r\n  \"version\": \"1.0\"\r\n}\r\n");
    assert_eq!(at(&crlf).0, 2, "{}", crlf.message);
    assert_eq!(at(&one(BuiltinKind::Json, b"{\n \"a\": tru\n}\n")).0, 2);
    assert_eq!(at(&one(BuiltinKind::Json, b"[\n1e\n]\n")).0, 2);
}

/// Keys that differ only in their lone surrogates are different keys: the
/// warning's repair keeps them apart.
#[test]
fn json_keys_with_different_lone_surrogates_are_not_duplicates() {
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc] {
        let findings = run(kind, br#"{"\ud800":1,"\ud801":2,"\ufffd":3}"#);
        assert!(findings.iter().all(|f| f.severity == Severity::Warning), "{kind:?}: {findings:?}");
        let findings = run(kind, br#"{"\ud800":1,"\ud800":2}"#);
        let dup = findings.iter().find(|f| f.message.starts_with("duplicate key")).expect("a duplicate");
        assert!(dup.message.starts_with(r"duplicate key `\ud800`"), "{kind:?}: shown as written: {}", dup.message);
        // The same with the stand-ins past the Basic Multilingual Plane.
        let findings = run(kind, br#"{"\ue000\ue800\uf000":1,"\ud800x":1,"\ud800x":2}"#);
        let dup = findings.iter().find(|f| f.message.starts_with("duplicate key")).expect("a duplicate");
        assert!(dup.message.starts_with(r"duplicate key `\ud800x`"), "{kind:?}: shown as written: {}", dup.message);
        // A key cut short right after a stand-in: the rest of the message
        // is kept.
        let key = format!("{}\\ud800bbb", "a".repeat(39));
        let findings = run(kind, format!("{{\"\\ue000\\ue800\\uf000\":1,\"{key}\":1,\"{key}\":2}}").as_bytes());
        let dup = findings.iter().find(|f| f.message.starts_with("duplicate key")).expect("a duplicate");
        assert!(dup.message.contains(&format!("{}\\ud800…`", "a".repeat(39))), "{kind:?}: {}", dup.message);
        // Nor is a stand-in ever a character of the file, escaped or raw,
        // while one block of private-use characters is free of them.
        for content in [
            r#"{"\ud800":1,"\ue000":2}"#.to_owned(),
            "{\"\\udfff\":1,\"\u{e7ff}\":2,\"\\ue800\":3}".to_owned(),
            "{\"\\ud801\":1,\"\\ue001\":2,\"\u{e801}\":3}".to_owned(),
            // Every block of the Basic Multilingual Plane's private use
            // area in use, escaped or raw: the stand-ins come from plane 15.
            r#"{"\uf000":"\ue000\ue800","\ud800":0}"#.to_owned(),
            "{\"\u{f000}\":\"\u{e000}\u{e800}\",\"\\ud800\":0}".to_owned(),
            // And then plane 15's first block too (escaped as a pair).
            r#"{"\uf000":"\ue000\ue800\udb80\udc00","\ud800":0, "\udb80\udc00  ":1}"#.to_owned(),
        ] {
            let findings = run(kind, content.as_bytes());
            assert!(findings.iter().all(|f| f.severity == Severity::Warning), "{kind:?} {content}: {findings:?}");
        }
    }
}

/// Past the 100 findings listed the check still goes on: a syntax error
/// after many warnings is counted, at its severity, in the summary that
/// ends the list, and a file of warnings only stays a file of warnings.
#[test]
fn json_warnings_past_the_cap_do_not_hide_an_error_or_make_one() {
    let surrogates = vec![r#""\ud800""#; 300].join(",\n");
    let numbers = vec!["1e400"; 300].join(",\n");
    for (kind, content, error) in [
        (BuiltinKind::Json, format!("[\n{surrogates},\n]\n"), true),
        (BuiltinKind::Json, format!("[\n{numbers},\nx]\n"), true),
        (BuiltinKind::Json, format!("[\n{numbers}]\n"), false),
        (BuiltinKind::Jsonc, format!("[\n{surrogates},\n]\n"), false),
        (BuiltinKind::Jsonc, format!("[\n{surrogates},\n,]\n"), true),
    ] {
        let findings = quick(|| run(kind, content.as_bytes()));
        let head = &content[..20];
        assert_eq!(findings.len(), 101, "{kind:?} {head:?}");
        assert!(findings[..100].iter().all(|f| f.severity == Severity::Warning), "{kind:?} {head:?}");
        let last = &findings[100];
        let more = if error { "201 more" } else { "200 more" };
        assert!(last.message.contains(more), "{kind:?} {head:?}: {}", last.message);
        let severity = if error { Severity::Error } else { Severity::Warning };
        assert_eq!(last.severity, severity, "{kind:?} {head:?}: {}", last.message);
    }
    // Thousands of them take one pass, not a parse each.
    let many = format!("[{}]", vec![r#""\udfff""#; 50_000].join(","));
    assert_eq!(quick(|| run(BuiltinKind::Json, many.as_bytes())).len(), 101);
    // Only numbers as JSON writes them, outside strings; only real escapes.
    assert_eq!(one(BuiltinKind::Json, b"[01e400]").severity, Severity::Error);
    assert_eq!(one(BuiltinKind::Json, b"[-1e400]").severity, Severity::Warning);
    assert_eq!(run(BuiltinKind::Json, br#"["1e400", "\\ud800", "\ud83d\ude00"]"#), []);
    assert_eq!(run(BuiltinKind::Jsonc, b"[1e400, // \"\\ud800\n 2 /* \\udc00 */]"), []);
    // Before an unterminated object or array (reported at its bracket, but
    // read to the end) the warnings stay.
    for content in [&br#"{"a": "\uD800""#[..], br#"["\uD800", 1"#] {
        let findings = run(BuiltinKind::Jsonc, content);
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings.iter().any(|f| f.message.starts_with("lone surrogate")), "{findings:?}");
    }
}

#[test]
fn json_columns_count_characters_and_skip_the_bom() {
    // serde_json counts bytes; the finding counts characters.
    assert_eq!(at(&one(BuiltinKind::Json, "{\"é€\": x}".as_bytes())), (1, 8));
    assert_eq!(at(&one(BuiltinKind::Json, format!("{BOM_STR}{{x}}").as_bytes())), (1, 2));
    // CRLF files; a misspelt literal is located at its start (serde_json
    // points where `tru` stops matching).
    assert_eq!(at(&one(BuiltinKind::Json, b"{\r\n  \"a\": tru\r\n}")), (2, 8));
}

/// A blank JSON does not have is named, as `jsonc` names it, not left as
/// the parser's `expected value`; a control character in a string keeps
/// the parser's words.
#[test]
fn json_names_a_second_byte_order_mark_and_other_blanks() {
    let f = one(BuiltinKind::Json, format!("{BOM_STR}{BOM_STR}{{}}\n").as_bytes());
    assert_eq!((f.severity, at(&f)), (Severity::Error, (1, 1)));
    assert!(f.message.starts_with("U+FEFF (byte order mark) between tokens"), "{}", f.message);
    let f = one(BuiltinKind::Json, "[1,\u{a0}2]".as_bytes());
    assert_eq!(at(&f), (1, 4));
    assert!(f.message.starts_with("U+00A0 (no-break space) between tokens"), "{}", f.message);
    let f = one(BuiltinKind::Json, b"[\"a\x0cb\"]");
    assert!(f.message.starts_with("control character"), "{}", f.message);
    // Inside a string, a number or a literal, the error is the token's.
    for text in ["[\"\\\u{a0}\"]", "[\"\\\u{2028}\"]", "[1.\u{a0}]", "[tru\u{a0}]"] {
        let f = one(BuiltinKind::Json, text.as_bytes());
        assert!(!f.message.contains("between tokens"), "{text:?}: {}", f.message);
    }
}

#[test]
fn json_duplicate_keys() {
    let f = one(BuiltinKind::Json, b"{\"a\": 1,\n \"b\": {\"x\": 1, \"x\": 2}}");
    assert_eq!(at(&f), (2, 16)); // the second key's opening quote
    assert_eq!(f.message, "duplicate key `x` (first at line 2)");
    // Large objects (hash set path), and escaped keys that equal plain ones.
    let mut big: String = (0..100).map(|i| format!("\"k{i}\": {i}, ")).collect();
    big = format!("{{{big}\"k\\u0035\": 0}}");
    let f = one(BuiltinKind::Json, big.as_bytes());
    assert_eq!(f.message, "duplicate key `k5` (first at line 1)");
    // Keys with escaped quotes and backslashes, and a key whose colon is on
    // the next line: still the second key's opening quote.
    assert_eq!(at(&one(BuiltinKind::Json, br#"{"a\"b": 1, "a\"b": 2}"#)), (1, 13));
    assert_eq!(at(&one(BuiltinKind::Json, br#"{"a\\": 1, "a\\": 2}"#)), (1, 12));
    assert_eq!(at(&one(BuiltinKind::Json, b"{\"x\": 1, \"x\"\n  : 2}")), (1, 10));
    assert_eq!(at(&one(BuiltinKind::Json, b"{\"k\": {\"z\":1}, \"k\": 3}")), (1, 16));
    // A control character in a key is shown as its escape, not raw.
    let f = one(BuiltinKind::Json, br#"{"a\u0000\u001b[31m": 1, "a\u0000\u001b[31m": 2}"#);
    assert_eq!(f.message, "duplicate key `a\\u0000\\u001B[31m` (first at line 1)");
}

/// A template rendered into JSON is not JSON yet: from the first line that
/// shows it is one, nothing is reported (as in `yaml`); what comes before
/// is checked.
#[test]
fn json_templates_are_checked_up_to_their_first_tag() {
    for template in [
        // Hugo's home page in its JSON output format, Docsy's search index.
        "{{- $.Scratch.Add \"index\" slice -}}\n{{- range site.RegularPages -}}\n",
        "{{ range .Pages }}{\"t\": {{ .Title | jsonify }}}{{ end }}\n",
        // Groovy's, ERB's or EEx's tags where a value or a member goes.
        "{\n  \"a\": [\n    <%\n    if (!success) { %>\n    {\"b\": 1}\n    <% } %>\n  ]\n}\n",
        "{\"facts\": [<% out << summary %>]}\n",
        "{\"n\": <%= @count %>}\n",
        // Jinja's.
        "[\n{% for x in xs %}\n  \"{{ x }}\"{% if not loop.last %},{% endif %}\n{% endfor %}\n]\n",
        "{\n  {# a comment #}\n  \"a\": 1\n}\n",
        // Handlebars'.
        "[{{#each items}}\"{{this}}\"{{/each}}]\n",
        // A quoted action whose argument's quote ends the string: Caddy's.
        "{\n  \"name\": \"Nav2: {{placeholder \"http.vars.ReqHost\"}}\",\n  \"x\": 1\n}\n",
    ] {
        clean(BuiltinKind::Json, template.as_bytes());
    }
    // What comes before the first tag is still checked.
    let f = run(BuiltinKind::Json, b"{\"a\": 1, \"a\": 2,\n \"b\": {{ .B }}}\n");
    assert_eq!((f.len(), f[0].message.as_str()), (1, "duplicate key `a` (first at line 1)"));
    // Not a template: a doubled brace before a key (the typo it looks
    // like), tags inside strings, an escaped quote in a string's action,
    // an unclosed action.
    for (json, line) in [
        ("[\n  {{\"a\": 1}\n]\n", 2),
        ("{\"t\": \"<% x %>\", \"t\": \"{% y %}\"}\n", 1),
        ("{\"t\": \"{{ .X \\\"y\\\" }}\",\n \"u\": }\n", 2),
        ("{\"t\": \"{{ placeholder \"x\"\n}\n", 1),
        ("{ {\n}\n", 1),
    ] {
        let f = run(BuiltinKind::Json, json.as_bytes());
        assert_eq!(f.first().and_then(|f| f.line), Some(line), "{json:?}");
    }
}

#[test]
fn json_comments_are_said_to_be_comments() {
    for (text, place) in [
        (&b"{\n  // why\n  \"a\": 1\n}\n"[..], (2, 3)),
        (b"[1, /* two */ 2]", (1, 5)),
        (b"{\"a\": 1 // one\n}", (1, 9)),
    ] {
        let f = one(BuiltinKind::Json, text);
        assert_eq!(at(&f), place, "{f:?}");
        assert!(f.message.starts_with("a comment: JSON has none") && f.message.contains("`jsonc`"), "{f:?}");
    }
    // A lone slash is no comment: the parser's words stand.
    assert!(!one(BuiltinKind::Json, b"[1, /]").message.contains("comment"));
}

#[test]
fn deno_and_turborepo_configuration_is_json_with_comments() {
    let jsonc = BuiltinKind::Jsonc.default_files();
    for name in ["deno.json", "turbo.json"] {
        assert!(jsonc.contains(&name) && BuiltinKind::Json.default_exclude().contains(&name), "{name}");
    }
}

#[test]
fn json_parser_limits_are_warnings_that_say_so() {
    // Valid JSON that serde_json cannot take: a number beyond f64 and
    // nesting past its depth limit. Warnings at the place, not syntax errors.
    let f = one(BuiltinKind::Json, b"{\"a\": [1, 1e400]}");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.starts_with("number beyond the range of a 64-bit float"), "{}", f.message);
    assert_eq!(at(&f), (1, 11));
    assert_eq!(at(&one(BuiltinKind::Json, b"-12.5e999")), (1, 1));
    clean(BuiltinKind::Json, b"[1e308, -1e308, 1e-400]");
    // At the edge: the largest float, written as its shortest decimal and
    // as one that rounds down to it, is in range; one that rounds up is not.
    clean(BuiltinKind::Json, b"[1.7976931348623157e308, 1.7976931348623158e308, -1.7976931348623158e308]");
    assert_eq!(one(BuiltinKind::Json, b"[1.79769313486231581e308]").severity, Severity::Warning);
    let max_as_integer = format!("[{:.0}]", f64::MAX);
    clean(BuiltinKind::Json, max_as_integer.as_bytes());
    // Deep nesting is read, and errors past it are found.
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    clean(BuiltinKind::Json, deep.as_bytes());
    let past = format!("{{\"a\": {}{}, \"b\": tru }}", "[".repeat(200), "]".repeat(200));
    let f = one(BuiltinKind::Json, past.as_bytes());
    // At `tru`'s start.
    assert_eq!((f.severity, at(&f)), (Severity::Error, (1, 414)), "{}", f.message);
    // Past 10,000 levels: a warning that says the check stops there.
    let deeper = format!("{}{}", "{\"a\":[".repeat(6_000), "]}".repeat(6_000));
    let f = one(BuiltinKind::Json, deeper.as_bytes());
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("nested more than 10000 deep"), "{}", f.message);
    let exactly = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    clean(BuiltinKind::Json, exactly.as_bytes());
    let over = format!("{}{}", "[".repeat(10_001), "]".repeat(10_001));
    assert_eq!(at(&one(BuiltinKind::Json, over.as_bytes())), (1, 10_001));
    // With blanks after each bracket: still the 10,001st.
    let spaced = format!("{}{}", "[ ".repeat(10_001), "]".repeat(10_001));
    assert_eq!(at(&one(BuiltinKind::Json, spaced.as_bytes())), (1, 20_001));
    // Ten megabytes of lines before the bracket too deep (each level of the
    // parser's unwinding used to count the lines before it: minutes).
    let tall = format!("{}1{}\n", format!("{}[\n", " ".repeat(1_000)).repeat(10_003), "]".repeat(10_003));
    let f = quick(|| one(BuiltinKind::Json, tall.as_bytes()));
    assert_eq!((f.severity, at(&f)), (Severity::Warning, (10_001, 1_001)), "{}", f.message);
    // The same lines, an ordinary error at the bottom of 9,999 levels.
    let tall_error = format!("{}1x{}\n", format!("{}[\n", " ".repeat(1_000)).repeat(9_999), "]".repeat(9_999));
    let f = quick(|| one(BuiltinKind::Json, tall_error.as_bytes()));
    assert_eq!((f.severity, f.line), (Severity::Error, Some(10_000)), "{}", f.message);
    // A string holding brackets, and escaped quotes, is not nesting.
    let quoted = format!("[\"{}\\\"\", {}{}]", "[".repeat(20_000), "[".repeat(9_999), "]".repeat(9_999));
    clean(BuiltinKind::Json, quoted.as_bytes());
    // Ten megabytes of `[`: the same warning, quickly, no stack overflow;
    // and the brackets left open, an error at the end.
    let flood = vec![b'['; TEN_MB];
    let f = quick(|| run(BuiltinKind::Json, &flood));
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!((f[0].severity, at(&f[0])), (Severity::Warning, (1, 10_001)));
    assert_eq!((f[1].severity, at(&f[1])), (Severity::Error, (1, TEN_MB as u32 + 1)), "{}", f[1].message);
    assert!(f[1].message.contains(&format!("{TEN_MB} arrays and objects left open")), "{}", f[1].message);
}

/// Past the depth the JSON checks parse, the brackets are still read: one
/// that closes the other kind, anything after the value, or brackets left
/// open are errors beside the depth's warning (JSONTestSuite's
/// `n_structure_100000_opening_arrays` and `n_structure_open_array_object`
/// were warnings alone).
#[test]
fn json_brackets_past_the_depth_the_check_parses_are_read() {
    let open_arrays = "[".repeat(100_000);
    let open_objects = "[{\"\":".repeat(50_000) + "\n";
    let mismatched = format!("{}{}}}{}", "[".repeat(10_001), "\"]}\\\"\" 1 true", "]".repeat(10_000));
    let trailing = format!("{}{} x", "[".repeat(20_000), "]".repeat(20_000));
    let trailing_bracket = format!("{}{}]", "[".repeat(20_000), "]".repeat(20_000));
    let cases: [(&str, (u32, u32), &str); 5] = [
        (&open_arrays, (1, 100_001), "100000 arrays and objects left open"),
        (&open_objects, (2, 1), "100000 arrays and objects left open"),
        (&mismatched, (1, 10_015), "`}` closes an array: `]` expected"),
        (&trailing, (1, 40_002), "trailing characters after the value"),
        (&trailing_bracket, (1, 40_001), "trailing characters after the value"),
    ];
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc] {
        for (text, position, said) in &cases {
            let f = run(kind, text.as_bytes());
            assert_eq!(f.len(), 2, "{kind}: {f:#?}");
            assert_eq!(f[0].severity, Severity::Warning, "{kind}: {}", f[0].message);
            assert_eq!((f[1].severity, at(&f[1])), (Severity::Error, *position), "{kind}: {}", f[1].message);
            assert!(f[1].message.contains(said), "{kind}: {}", f[1].message);
        }
        // Balanced and alone: the warning only.
        let f = one(kind, format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)).as_bytes());
        assert_eq!(f.severity, Severity::Warning);
    }
    // A string left open past the depth runs to the end: its brackets are
    // not brackets (and JSONC says the same of it).
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc] {
        for text in [
            format!("{}\"abc{}", "[".repeat(10_001), "]".repeat(10_001)),
            format!("{}\"a]{}", "[".repeat(10_001), "]".repeat(10_000)),
        ] {
            let f = run(kind, text.as_bytes());
            assert_eq!((f.len(), f[1].severity), (2, Severity::Error), "{kind}: {f:#?}");
        }
    }
    let open = run(BuiltinKind::Json, format!("{}\"abc{}", "[".repeat(10_001), "]".repeat(10_001)).as_bytes());
    assert!(open[1].message.contains("10001 arrays and objects left open"), "{}", open[1].message);
    // Past the depth nothing but the brackets is read, whether they are
    // right or not: no warning about a number there.
    let number = |end: &str| format!("{}1e400{}{end}", "[".repeat(10_001), "]".repeat(10_001));
    assert!(one(BuiltinKind::Json, number("").as_bytes()).message.contains("nested more than 10000 deep"));
    let f = run(BuiltinKind::Json, number("x").as_bytes());
    assert!(f.len() == 2 && f[0].message.contains("nested more than 10000 deep"), "{f:#?}");
    // JSONC's comments hold no brackets; a token it does not have is an error.
    let commented = format!("{}// ]]]\n/* [ */{}", "[".repeat(1_000), "]".repeat(1_000));
    assert_eq!(one(BuiltinKind::Jsonc, commented.as_bytes()).severity, Severity::Warning);
    let f = run(BuiltinKind::Jsonc, format!("{} @{}", "[".repeat(1_000), "]".repeat(1_000)).as_bytes());
    assert_eq!((f.len(), f[1].severity, at(&f[1])), (2, Severity::Error, (1, 1_002)), "{f:#?}");
}

#[test]
fn json_invalid_utf8() {
    let f = one(BuiltinKind::Json, b"{\"a\": \"\xFF\"}");
    assert_eq!(at(&f), (1, 8));
    assert!(f.message.contains("UTF-8"), "{}", f.message);
}

#[test]
fn json_ten_megabyte_line() {
    let mut content = b"[\"".to_vec();
    content.resize(TEN_MB, b'a');
    content.extend_from_slice(b"\", 1, 2, 3]");
    quick(|| clean(BuiltinKind::Json, &content));
    content.pop();
    let f = quick(|| one(BuiltinKind::Json, &content));
    assert_eq!(f.line, Some(1));
    assert!(f.message.contains("EOF"), "{}", f.message);
}

/// Every duplicate key is reported, in file order, and so is a syntax error
/// after them; past the error nothing is looked at.
#[test]
fn json_reports_every_duplicate_key_and_the_error_after_them() {
    let findings = run(BuiltinKind::Json, b"{\n  \"a\": {\"x\": 1, \"x\": 2},\n  \"a\": [{\"y\": 1, \"y\": 2}]\n}\n");
    assert_eq!(positions(&findings), [(2, 17), (3, 3), (3, 18)], "{findings:?}");
    assert_eq!(findings[1].message, "duplicate key `a` (first at line 2)");
    let findings = run(BuiltinKind::Json, b"{\"a\": 1, \"a\": 2, \"b\": 1 \"b\": 2, \"a\": 3}");
    assert_eq!(positions(&findings), [(1, 10), (1, 25)], "{findings:?}");
    assert_eq!(findings[1].severity, Severity::Error);
    assert!(!findings[1].message.contains("duplicate"), "{}", findings[1].message);
    // With lone surrogates repaired on the way.
    let findings = run(BuiltinKind::Json, br#"{"\ud800": 1, "\ud800": "\udc00", "\ud800": 3}"#);
    let got: Vec<_> = findings.iter().map(|f| (f.column, f.severity)).collect();
    assert_eq!(
        got,
        [
            (Some(3), Severity::Warning),
            (Some(15), Severity::Error),
            (Some(16), Severity::Warning),
            (Some(26), Severity::Warning),
            (Some(35), Severity::Error),
            (Some(36), Severity::Warning)
        ],
        "{findings:?}"
    );
    // Many duplicates stay cheap: one more parse and one pass over the tokens.
    let many = format!("[{}{{}}]", r#"{"a":0,"a":0},"#.repeat(200_000));
    let findings = quick(|| run(BuiltinKind::Json, many.as_bytes()));
    assert_eq!(findings.len(), MAX_FINDINGS + 1);
}

#[test]
fn json_warnings_do_not_hide_the_errors_after_them() {
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc] {
        // A broken file after a lone surrogate is still broken.
        let findings = run(kind, br#"{"a": "\ud800", "b": 1 "c": 2}"#);
        let got: Vec<_> = findings.iter().map(|f| (f.column, f.severity)).collect();
        assert_eq!(got.len(), 2, "{kind}: {findings:?}");
        assert_eq!(got[0], (Some(8), Severity::Warning), "{kind}: {findings:?}");
        assert_eq!(got[1].1, Severity::Error, "{kind}: {findings:?}");
        // Several warnings, each reported, in file order.
        let findings = run(kind, br#"["\ud800", "\udc00", 1]"#);
        assert_eq!(positions(&findings), [(1, 3), (1, 13)], "{kind}");
    }
    // A duplicate before a lone surrogate is reported too (jsonc: every one).
    let findings = run(BuiltinKind::Jsonc, br#"{"a": 1, "a": "\ud800"}"#);
    assert_eq!(positions(&findings), [(1, 10), (1, 16)]);
    // Numbers past f64 likewise.
    let findings = run(BuiltinKind::Json, b"[1e999, 2e999, ]");
    let got: Vec<_> = findings.iter().map(|f| (f.column, f.severity)).collect();
    assert_eq!(got, [(Some(2), Severity::Warning), (Some(9), Severity::Warning), (Some(14), Severity::Error)]);
}

#[test]
fn json_lone_surrogates_are_a_warning_at_their_escape() {
    for (content, column) in [
        (&br#"["\ud800\ud83d\ude00"]"#[..], 3),
        (br#"["\udc00\ud83d\ude00"]"#, 3),
        (&br#"{"a": "\ud800"}"#[..], 8),
        (br#"{"a": "\udc00x"}"#, 8),
        (br#"{"a": "\ud800\u0041"}"#, 8),
        (br#"["\ud83d\ude00\uDFAA"]"#, 15),
    ] {
        let f = one(BuiltinKind::Json, content);
        assert_eq!((f.severity, at(&f)), (Severity::Warning, (1, column)), "{}", String::from_utf8_lossy(content));
        assert!(f.message.starts_with("lone surrogate escape"), "{}", f.message);
    }
    clean(BuiltinKind::Json, br#"["\ud83d\ude00", "\\ud800"]"#);
    // A short escape is a syntax error still.
    assert_eq!(one(BuiltinKind::Json, br#"["\u12"]"#).severity, Severity::Error);
}

// --------------------------------------------------------------------- jsonc ----

#[test]
fn jsonc_allows_comments_and_trailing_commas_and_nothing_else_of_json5() {
    clean(BuiltinKind::Jsonc, b"// settings\n{\n  \"a\": 1, /* inline */\n  \"b\": [1, 2,],\n}\n");
    clean(BuiltinKind::Jsonc, format!("{BOM_STR}{{\"a\": \"// not a comment\"}}").as_bytes());
    for (content, at_) in [
        (&b"{'a': 1}"[..], (1, 2)),
        (b"{a: 1}", (1, 2)),
        (b"{\"a\": 0x1}", (1, 7)),
        (b"{\"a\": +1}", (1, 7)),
        (b"{\"a\": .5}", (1, 7)),
        (b"{\"a\": NaN}", (1, 7)),
        (b"{\"a\": 1 \"b\": 2}", (1, 9)),
        (b"{\"a\": 1} /* open", (1, 10)),
        (b"[1,,]", (1, 4)),
    ] {
        let f = one(BuiltinKind::Jsonc, content);
        assert_eq!(
            (at(&f), f.severity),
            (at_, Severity::Error),
            "{:?}: {}",
            String::from_utf8_lossy(content),
            f.message
        );
    }
    let f = one(BuiltinKind::Jsonc, b"  // only a comment\n");
    assert!(f.message.starts_with("empty document"), "{}", f.message);
}

#[test]
fn jsonc_refuses_raw_control_characters_in_strings_and_json5_blanks() {
    for (content, at_, what) in [
        (&b"{\"a\": \"x\ny\"}"[..], (1, 9), "U+000A (line feed"),
        (b"{\"a\tb\": 1}", (1, 4), "U+0009 (tab) inside a string"),
        (b"{\"a\": \"\x00\"}", (1, 8), "U+0000 inside a string"),
        (b"{\"a\":\x0c1}", (1, 6), "U+000C (form feed) between tokens"),
        ("{\"a\":\u{a0}1}".as_bytes(), (1, 6), "U+00A0 (no-break space) between tokens"),
        ("[1,\u{2028}2]".as_bytes(), (1, 4), "U+2028 (line separator)"),
        ("[1,\u{feff}2]".as_bytes(), (1, 4), "U+FEFF (byte order mark) between tokens"),
        ("{\"a\": 1}\u{3000}".as_bytes(), (1, 9), "U+3000 between tokens"),
    ] {
        let f = one(BuiltinKind::Jsonc, content);
        assert_eq!(at(&f), at_, "{:?}: {}", String::from_utf8_lossy(content), f.message);
        assert!(f.message.starts_with(what), "{}", f.message);
    }
    // A missing closing quote is found on its own line, not where the
    // parser stumbles later.
    let f = one(BuiltinKind::Jsonc, b"{\n  \"a\": \"open,\n  \"b\": 1\n}\n");
    assert_eq!(at(&f), (2, 14), "{}", f.message);
    // Escaped, they are fine; so are tabs and CRLF between tokens.
    clean(BuiltinKind::Jsonc, b"{\"a\":\t\"x\\ny\\t\",\r\n\"b\": 1}\r\n");
    // A lone surrogate is the json check's warning.
    for (content, column) in
        [(&br#"{"a": "\ud800"}"#[..], 8), (br#"["\ud800\ud83d\ude00"]"#, 3), (br#"["\udc00\ud83d\ude00"]"#, 3)]
    {
        let f = one(BuiltinKind::Jsonc, content);
        let text = String::from_utf8_lossy(content);
        assert_eq!((f.severity, at(&f)), (Severity::Warning, (1, column)), "{text}: {}", f.message);
    }
    // The first error is reported, whichever pass finds it.
    let f = one(BuiltinKind::Jsonc, b"{\"a\" 1,\n\"b\": \"x\ty\"}");
    assert_eq!(at(&f).0, 1, "{}", f.message);
}

#[test]
fn jsonc_reports_every_duplicate_key_in_file_order() {
    let findings =
        run(BuiltinKind::Jsonc, b"{\n  \"a\": {\"x\": 1, \"x\": 2},\n  // c\n  \"a\": [{\"y\": 1, \"y\": 2}]\n}\n");
    assert_eq!(positions(&findings), [(2, 17), (4, 3), (4, 18)]);
    assert_eq!(findings[1].message, "duplicate key `a` (first at line 2)");
    // In a file with CR line endings too; many duplicates stay cheap.
    let f = one(BuiltinKind::Jsonc, b"{\r\"a\": 1,\r\"a\": 2}");
    assert_eq!((at(&f), f.message.as_str()), ((3, 1), "duplicate key `a` (first at line 2)"));
    let many = format!("[{}{{}}]", r#"{"a":0,"a":0},"#.repeat(200_000));
    let findings = quick(|| run(BuiltinKind::Jsonc, many.as_bytes()));
    assert_eq!(findings.len(), MAX_FINDINGS + 1);
    clean(BuiltinKind::Jsonc, b"[{\"a\": 1}, {\"a\": 2}]");
}

#[test]
fn jsonc_reports_the_duplicates_before_a_syntax_error() {
    let findings = run(
        BuiltinKind::Jsonc,
        b"{\n  \"a\": 1,\n  \"a\" /* c */ : [\"a\", \"a\"],\n  \"b\": {\"a\": 1},\n  \"b\": 2 3\n}\n",
    );
    assert_eq!(positions(&findings), [(3, 3), (5, 3), (5, 10)], "{findings:?}");
    assert_eq!(findings[0].message, "duplicate key `a` (first at line 2)");
    assert_eq!(findings[1].message, "duplicate key `b` (first at line 4)");
    assert!(!findings[2].message.contains("duplicate"), "{}", findings[2].message);
    // Before an error found on the tokens (a raw tab) too.
    let findings = run(BuiltinKind::Jsonc, b"{\"k\": 1, \"k\": \"x\ty\"}");
    assert_eq!(positions(&findings), [(1, 10), (1, 17)], "{findings:?}");
    // A missing closing bracket is reported at the opening one: the
    // duplicates are looked for to the end.
    for (content, duplicate) in [
        (&b"{\"a\": 1, \"a\": 2"[..], (1, 10)),
        (b"{\"x\": {\"a\": 1, \"a\": 2}", (1, 16)),
        (b"[{\"a\": 1, \"a\": 2}", (1, 11)),
    ] {
        let findings = run(BuiltinKind::Jsonc, content);
        assert_eq!(positions(&findings), [(1, 1), duplicate], "{findings:?}");
        assert!(findings[0].message.starts_with("Unterminated"), "{}", findings[0].message);
    }
    // What follows the error is not looked at, as the parser does not.
    let f = one(BuiltinKind::Jsonc, b"{\"a\": 1,, \"a\": 2}");
    assert_eq!(at(&f), (1, 9), "{}", f.message);
}

/// A missing comma is reported at the value after it, not at the blank
/// before that value; the depth's warning at the bracket past the limit,
/// an object's `{` as an array's `[`.
#[test]
fn jsonc_positions_of_a_missing_comma_and_of_the_depth() {
    let f = one(BuiltinKind::Jsonc, b"[1 true]");
    assert_eq!((at(&f), f.message.as_str()), ((1, 4), "Expected comma"));
    assert_eq!(at(&one(BuiltinKind::Jsonc, b"{\"a\":\"a\"\n\t 123}")), (2, 3));
    assert_eq!(at(&one(BuiltinKind::Jsonc, b"[1 /* c */ true]")), (1, 12));
    assert_eq!(at(&one(BuiltinKind::Jsonc, b"{\"a\":1 // x\n \"b\":2}")), (2, 2));
    let objects = format!("{}1{}", "{\"a\":".repeat(257), "}".repeat(257));
    let f = one(BuiltinKind::Jsonc, objects.as_bytes());
    assert_eq!((f.severity, at(&f)), (Severity::Warning, (1, 256 * 5 + 1)), "{}", f.message);
    let arrays = format!("{}{}", "[".repeat(600), "]".repeat(600));
    assert_eq!(at(&one(BuiltinKind::Jsonc, arrays.as_bytes())), (1, 513));
}

#[test]
fn jsonc_nesting_past_the_parsers_limit_is_a_warning_and_never_overflows() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let f = one(BuiltinKind::Jsonc, deep.as_bytes());
    assert_eq!(f.severity, Severity::Warning, "{}", f.message);
    clean(BuiltinKind::Jsonc, format!("{}{}", "[".repeat(500), "]".repeat(500)).as_bytes());
    let f = one(BuiltinKind::Jsonc, b"{\"a\": \xFF}");
    assert!(f.message.contains("UTF-8"), "{}", f.message);
}

// -------------------------------------------------------------------- toml ----

#[test]
fn toml_valid_and_empty() {
    clean(BuiltinKind::Toml, b"");
    clean(BuiltinKind::Toml, b"# only a comment\n");
    clean(BuiltinKind::Toml, b"title = \"x\"\n[a.b]\nc = [1, 2]\nd = 1979-05-27T07:32:00Z\r\n");
    clean(BuiltinKind::Toml, format!("{BOM_STR}a = 1\n").as_bytes());
}

#[test]
fn toml_errors_with_position() {
    let f = one(BuiltinKind::Toml, b"a = 1\nb = \n");
    assert_eq!(f.line, Some(2));
    assert_eq!(f.severity, Severity::Error);
    assert!(!f.message.contains('\n'));
    let f = one(BuiltinKind::Toml, b"a = 1\n\na = 2\n");
    assert_eq!(at(&f), (3, 1));
    assert_eq!(f.message, "duplicate key `a`");
    let f = one(BuiltinKind::Toml, format!("{BOM_STR}[x]\ny = 1\n[x]\n").as_bytes());
    assert_eq!(f.line, Some(3));
    assert_eq!(f.message, "duplicate key `x`");
    assert_eq!(one(BuiltinKind::Toml, b"[t]\n\"a b\" = 1\n\"a b\" = 2\n").message, "duplicate key `\"a b\"`");
    // What only a full parse finds, though nothing is built from it.
    assert_eq!(one(BuiltinKind::Toml, b"ok = 1\nd = 1979-13-27T07:32:00Z\n").line, Some(2), "month 13");
    assert_eq!(one(BuiltinKind::Toml, b"t = { b = 1, b = 2 }\n").line, Some(1), "inline table");
    assert_eq!(one(BuiltinKind::Toml, b"a.b = 1\na = 2\n").line, Some(2), "dotted key redefined");
    assert_eq!(one(BuiltinKind::Toml, b"n = 99999999999999999999\n").line, Some(1), "integer overflow");
    // A bare carriage return: at the return, as `mixed-line-endings` says
    // it (the parser names the byte after it).
    let f = one(BuiltinKind::Toml, b"a = 1\rb = 2\n");
    assert!(f.message.contains("carriage return"), "{}", f.message);
    assert_eq!(at(&f), (1, 6));
    assert_eq!(at(&one(BuiltinKind::Toml, b"a = 1\rb = 2\r")), (1, 6), "returns alone end lines");
    assert_eq!(at(&one(BuiltinKind::Toml, b"a = 1\r\r\nb = 2\n")), (1, 6), "the bare one, not the CRLF after it");
    // The first error in the file, where the parser kept a later one (what
    // it made of the lines after the first): an unclosed string, a value
    // that is none, a key with no value.
    for (text, first) in [(&b"a = \"a\nb\"\n"[..], (1, 7)), (b"a = ?\n[t\n", (1, 5)), (b"a = 1\nb =\n-0\n", (2, 4))] {
        let found = run(BuiltinKind::Toml, text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(at(&found[0]), first, "{}: {}", String::from_utf8_lossy(text), found[0].message);
    }
}

#[test]
fn toml_integers_past_64_bits_and_a_second_bom_are_said_plainly() {
    clean(BuiltinKind::Toml, b"a = 9223372036854775807\nb = -9223372036854775808\n");
    for text in ["a = 9223372036854775808\n", "a = -9223372036854775809\n", "a = 18446744073709551616\n"] {
        let f = one(BuiltinKind::Toml, text.as_bytes());
        assert_eq!(at(&f), (1, 5), "{text}");
        assert!(f.message.starts_with("integer out of range: TOML integers are 64-bit signed"), "{}", f.message);
    }
    clean(BuiltinKind::Toml, format!("{BOM_STR}a = 1\n").as_bytes());
    let f = one(BuiltinKind::Toml, format!("{BOM_STR}{BOM_STR}a = 1\n").as_bytes());
    assert_eq!(at(&f), (1, 1));
    assert!(f.message.starts_with("a second byte order mark"), "{}", f.message);
}

/// The parser's "string values must be quoted" and "integer number
/// overflowed" for two values written where one goes, a control character
/// after a value, and a base prefix with no digits, said as what they are.
#[test]
fn toml_messages_say_what_was_written() {
    for (text, place, said) in [
        ("a=1 b=2\n", (1, 3), "`1 b` is not one value"),
        ("arrr = [true false]\n", (1, 9), "`true false` is not one value"),
        ("x = {a = 1 b = 2}\n", (1, 10), "`1 b` is not one value"),
        ("a = 1 \u{c}\n", (1, 5), "a control character (U+000C) after a value"),
        ("a = 0x\n", (1, 5), "`0x` has no digits after its base prefix"),
    ] {
        let f = one(BuiltinKind::Toml, text.as_bytes());
        assert_eq!(at(&f), place, "{text:?}: {f:?}");
        assert!(f.message.starts_with(said), "{text:?}: {}", f.message);
    }
    // A bare word alone is still a string without quotes.
    assert!(one(BuiltinKind::Toml, b"a = hello\n").message.starts_with("string values must be quoted"));
}

/// A float past a 64-bit float's range is TOML that parsers read as
/// infinity or refuse: a warning at each, and the rest is still checked.
#[test]
fn toml_floats_past_64_bits_are_warnings_and_the_rest_is_checked() {
    clean(BuiltinKind::Toml, b"a = 1e-400\nb = 1.7976931348623157e308\nc = inf\n");
    let findings = run(BuiltinKind::Toml, b"a = 1e400\nb = [-1e999, 2]\nc = {d = 9e9999}\ne = 9223372036854775808\n");
    assert_eq!(positions(&findings), [(1, 5), (2, 6), (3, 10), (4, 5)], "{findings:?}");
    for f in &findings[..3] {
        assert_eq!(f.severity, Severity::Warning, "{}", f.message);
        assert!(f.message.starts_with("float beyond the range of a 64-bit float"), "{}", f.message);
    }
    assert_eq!(findings[3].severity, Severity::Error, "{}", findings[3].message);
    // In file order, whatever the keys' order, around a later error; and
    // before a syntax error too.
    let findings = run(BuiltinKind::Toml, b"z = 1e400\ny = 1e400\nw = 9223372036854775808\nx = 1e400\n");
    assert_eq!(positions(&findings), [(1, 5), (2, 5), (3, 5), (4, 5)], "{findings:?}");
    assert_eq!(findings[2].severity, Severity::Error);
    let findings = run(BuiltinKind::Toml, b"a = -1e999\nb = [\n");
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!((findings[0].severity, at(&findings[0])), (Severity::Warning, (1, 5)));
    assert_eq!(findings[1].severity, Severity::Error);
    // However many: one parse more, the first 100 listed, the rest counted.
    let many: String = (0..150).rev().map(|i| format!("k{i:03} = 1e400\n")).collect();
    let findings = quick(|| run(BuiltinKind::Toml, many.as_bytes()));
    assert_eq!(findings.len(), 101);
    assert_eq!(findings[99].line, Some(100), "the first 100 lines");
    assert!(findings[100].message.contains("50 more"), "{}", findings[100].message);
    assert_eq!(findings[100].severity, Severity::Warning);
}

/// Nesting past the parser's depth is its limit, not TOML's: a warning.
#[test]
fn toml_nesting_past_the_parsers_depth_is_a_warning() {
    let deep = format!("a = {}1{}\n", "[".repeat(200), "]".repeat(200));
    let f = one(BuiltinKind::Toml, deep.as_bytes());
    assert_eq!(f.severity, Severity::Warning, "{}", f.message);
    assert!(f.message.contains("nested deeper than the TOML parser reads"), "{}", f.message);
    let keys = format!("{} = 1\n", vec!["k"; 200].join("."));
    assert_eq!(one(BuiltinKind::Toml, keys.as_bytes()).severity, Severity::Warning);
    // A key of too many parts, at its start (the parser names no place):
    // in a table header, after shorter keys, in an inline table, alone; 80
    // parts are read, 81 are not.
    let parts = |n: usize| vec!["k"; n].join(" . ");
    clean(BuiltinKind::Toml, format!("{} = 1\n", parts(80)).as_bytes());
    for (text, place) in [
        (format!("a = 1\n\n  [{}]\n", parts(200)), (3, 4)),
        (format!("[t]\n{} = 1\n{} = 2\n", parts(80), parts(81)), (3, 1)),
        (format!("[t]\n{} = 1\na = 1\nb = 1\n{} = 2\n", parts(81), parts(82)), (2, 1)),
        (format!("x = {{ a = 1, \"q.q\".{} = 2 }}\n", parts(90)), (1, 14)),
        (format!("{} = 1\n", parts(81)), (1, 1)),
    ] {
        let f = one(BuiltinKind::Toml, text.as_bytes());
        assert_eq!((f.severity, at(&f)), (Severity::Warning, place), "{text}: {}", f.message);
    }
    assert_eq!(run(BuiltinKind::Toml, format!("a = {}1{}\n", "[".repeat(50), "]".repeat(50)).as_bytes()), []);
}

#[test]
fn toml_invalid_utf8() {
    let f = one(BuiltinKind::Toml, b"a = \"\xC3\"\n");
    assert_eq!(at(&f), (1, 6));
    assert!(f.message.contains("UTF-8"), "{}", f.message);
}

#[test]
fn toml_ten_megabyte_line() {
    let mut content = b"a = \"".to_vec();
    content.resize(TEN_MB, b'v');
    content.extend_from_slice(b"\"\n");
    quick(|| clean(BuiltinKind::Toml, &content));
}

// -------------------------------------------------------------------- yaml ----

#[test]
fn yaml_valid_empty_and_multi_document() {
    clean(BuiltinKind::Yaml, b"");
    clean(BuiltinKind::Yaml, b"# comment only\n");
    clean(BuiltinKind::Yaml, b"a: 1\nb: [1, 2]\nc:\n  - d: e\n");
    clean(BuiltinKind::Yaml, b"---\na: 1\n---\nb: 2\n...\n---\n- x\n");
    clean(BuiltinKind::Yaml, b"a: 1\r\nb: !Ref thing\r\n");
    clean(BuiltinKind::Yaml, format!("{BOM_STR}a: 1\n").as_bytes());
}

/// A C0 control (but tab and line breaks) is allowed nowhere in YAML, not
/// even in a quoted scalar; the first error, it or a syntax error, is the
/// one reported.
#[test]
fn yaml_control_characters_are_errors() {
    for content in [&b"a: b\x1b[0m\n"[..], b"a: \"b\x07c\"\n", b"# c\x01\n", b"a: |\n  x\x1by\n"] {
        let f = one(BuiltinKind::Yaml, content);
        assert!(
            f.message.starts_with("control character U+00"),
            "{:?}: {}",
            String::from_utf8_lossy(content),
            f.message
        );
    }
    assert_eq!(at(&one(BuiltinKind::Yaml, b"a: 1\nb: x\x1by\n")), (2, 5));
    // A syntax error before it is reported instead.
    let f = one(BuiltinKind::Yaml, b"a: [1\nb: x\x1b\n");
    assert!(!f.message.starts_with("control character"), "{}", f.message);
    assert_eq!(run(BuiltinKind::Yaml, b"a: b\tc\r\nd: \"e\tf\"\n"), []);
}

/// DEL and the C1 controls (but NEL) are allowed inside quoted scalars
/// only, as JSON strings allow them.
#[test]
fn yaml_del_and_c1_controls_are_errors_outside_quoted_scalars() {
    clean(BuiltinKind::Yaml, b"a: \"x\x7fy\"\nb: 'p\xc2\x80q\xc2\x9f'\n\"k\x7f\": 1\n{\"m\x7f\": 'n\x7f'}: 2\n");
    clean(BuiltinKind::Yaml, b"a: x\xc2\x85y # NEL \xc2\x85\n");
    for (content, at_, c) in [
        (&b"a: x\x7fy\n"[..], (1, 5), "U+007F"),
        (b"# c\x7f\na: 1\n", (1, 4), "U+007F"),
        (b"a: |\n  x\xc2\x9f\n", (2, 4), "U+009F"),
        (b"\"ok\x7f\": 1\nb: c\xc2\x80\n", (2, 5), "U+0080"),
        (b"{\"a\x7f\": b\x7f}\n", (1, 9), "U+007F"),
        (b"a: 'x\x7f'\nb: 1 # \x7f", (2, 8), "U+007F"),
    ] {
        let f = one(BuiltinKind::Yaml, content);
        let shown = String::from_utf8_lossy(content);
        assert_eq!(at(&f), at_, "{shown:?}: {}", f.message);
        assert!(
            f.message.starts_with(&format!("control character {c} outside a quoted scalar")),
            "{shown:?}: {}",
            f.message
        );
    }
    // One inside a quoted scalar the parser read ahead of its error is not
    // taken for one outside: the parser's error is reported.
    for content in [&b"\"a\x7f\" ]\n"[..], b"k: \"a\x7f\" ]\n", b"\"a\x7f\" b\n"] {
        let f = one(BuiltinKind::Yaml, content);
        assert!(!f.message.starts_with("control character"), "{:?}: {}", String::from_utf8_lossy(content), f.message);
    }
    // The noncharacters U+FFFE and U+FFFF likewise.
    clean(BuiltinKind::Yaml, "a: \"x\u{fffe}\"\nb: 'y\u{ffff}'\n".as_bytes());
    for (content, at_) in [("k: a\u{fffe}b\n", (1, 5)), ("# \u{ffff}\nk: 1\n", (1, 3))] {
        let f = one(BuiltinKind::Yaml, content.as_bytes());
        assert_eq!(at(&f), at_, "{content:?}: {}", f.message);
        assert!(f.message.starts_with("noncharacter U+FFF"), "{content:?}: {}", f.message);
    }
    // C0 controls stay errors inside quoted scalars, after a DEL there too.
    let f = one(BuiltinKind::Yaml, b"a: \"\x7f\x01\"\n");
    assert_eq!(at(&f), (1, 6), "{}", f.message);
    assert!(f.message.starts_with("control character U+0001: YAML allows none"), "{}", f.message);
}

#[test]
fn yaml_syntax_error_position() {
    let f = one(BuiltinKind::Yaml, b"key: value\n  bad: indent\n");
    assert_eq!(at(&f), (2, 6));
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("mapping values are not allowed"), "{}", f.message);
    assert!(!f.message.contains("at line 2 column 6"), "position is not repeated: {}", f.message);
    let f = one(BuiltinKind::Yaml, format!("{BOM_STR}a: [1, 2\n").as_bytes());
    assert_eq!(f.line, Some(2));
    // An error at the end of a file without a final line break is at its
    // end, not on a line past it.
    for (content, position) in [(&b"["[..], (1, 2)), (b"{{}  ", (1, 6)), ("[\u{e9}\n!".as_bytes(), (2, 2))] {
        assert_eq!(at(&one(BuiltinKind::Yaml, content)), position, "{:?}", String::from_utf8_lossy(content));
    }
}

#[test]
fn yaml_reserved_indicators_say_to_quote_the_value() {
    for (content, c) in [(&b"a: %b\n"[..], '%'), (b"deps:\n  - @types/node\n", '@'), (b"cmd: `ls`\n", '`')] {
        let f = one(BuiltinKind::Yaml, content);
        assert!(f.message.starts_with(&format!("a plain scalar cannot begin with `{c}`")), "{}", f.message);
        assert!(f.message.ends_with("quote it"), "{}", f.message);
    }
}

#[test]
fn yaml_error_in_a_later_document() {
    let f = one(BuiltinKind::Yaml, b"a: 1\n---\nb: 2\n---\nc: [\n");
    assert_eq!(f.line, Some(6)); // the end of the file, where the `]` is missing
    assert!(f.message.contains("did not find expected node content"), "{}", f.message);
}

#[test]
fn yaml_duplicate_keys_point_at_the_second_key() {
    let f = one(BuiltinKind::Yaml, b"a: 1\nb: 2\n# a: 0\n\na: 3\n");
    assert_eq!(at(&f), (5, 1));
    assert_eq!(f.message, "duplicate key `a` (first at line 1)");
    let f = one(BuiltinKind::Yaml, b"top:\n  - name: x\n    nested:\n      k: 1\n    'name': y\n");
    assert_eq!(at(&f), (5, 5));
    let f = one(BuiltinKind::Yaml, b"x:\n  - {a: 1, b: 2, a: 3}\n");
    assert_eq!(at(&f), (2, 18));
    // Same key in sibling mappings is fine.
    clean(BuiltinKind::Yaml, b"- a: 1\n- a: 2\n");
}

#[test]
fn yaml_duplicate_key_that_is_not_the_mappings_first() {
    let f = one(BuiltinKind::Yaml, b"x: 0\na: 1\nb: 2\na: 3\n");
    assert_eq!(at(&f), (4, 1), "{}", f.message);
    let f = one(BuiltinKind::Yaml, b"x:\n  y: 1\n  a: 1\n  a: 2\n");
    assert_eq!(at(&f), (4, 3), "{}", f.message);
}

#[test]
fn yaml_duplicate_keys_compare_values_as_the_core_schema_resolves_them() {
    // The same value written two ways is the same key.
    let f = one(BuiltinKind::Yaml, b"16: a\n0x10: b\n");
    assert_eq!((at(&f), f.message.as_str()), ((2, 1), "duplicate key `0x10` (first at line 1)"));
    let f = one(BuiltinKind::Yaml, b"a: 1\n\"a\": 2\n");
    assert_eq!(at(&f), (2, 1));
    let f = one(BuiltinKind::Yaml, b"~: 1\nnull: 2\n");
    assert_eq!(at(&f), (2, 1));
    let f = one(BuiltinKind::Yaml, b"true: 1\nTrue: 2\n");
    assert_eq!(at(&f), (2, 1));
    // Different types are different keys; YAML 1.1's `yes` is a string.
    clean(BuiltinKind::Yaml, b"1: a\n'1': b\n1.0: c\n");
    let f = one(BuiltinKind::Yaml, b"'1': b\n!!str 1: d\n");
    assert_eq!(at(&f), (2, 1), "a tag forces the type");
    clean(BuiltinKind::Yaml, b"true: a\nyes: b\n");
    // Integers past 64 (and 128) bits are valid YAML and compared exactly.
    clean(BuiltinKind::Yaml, b"a: 18446744073709551616\nb: 340282366920938463463374607431768211456\n");
    let f = one(
        BuiltinKind::Yaml,
        b"340282366920938463463374607431768211456: a\n0340282366920938463463374607431768211456: b\n",
    );
    assert_eq!(at(&f), (2, 1));
}

#[test]
fn yaml_duplicate_keys_through_aliases_collections_and_lone_carriage_returns() {
    let f = one(BuiltinKind::Yaml, b"&k x: 1\n*k : 2\n");
    assert_eq!((at(&f), f.message.as_str()), ((2, 1), "duplicate key `x` via an alias (first at line 1)"));
    // Complex keys: sequences in order, mappings in any order.
    let f = one(BuiltinKind::Yaml, b"? [a, b]\n: 1\n? [a, b]\n: 2\n");
    assert_eq!((at(&f), f.message.as_str()), ((3, 3), "duplicate key (a sequence) (first at line 1)"));
    clean(BuiltinKind::Yaml, b"? [a, b]\n: 1\n? [b, a]\n: 2\n");
    let f = one(BuiltinKind::Yaml, b"? {a: 1, b: 2}\n: 1\n? {b: 2, a: 1}\n: 2\n");
    assert_eq!(at(&f), (3, 3));
    // A lone CR ends a line in YAML.
    let f = one(BuiltinKind::Yaml, b"a: 1\rb: 2\ra: 3\r");
    assert_eq!(at(&f), (3, 1));
    // An alias of the mapping it is in is a value like any other.
    let f = one(BuiltinKind::Yaml, b"&m {a: *m, b: 1, b: 2}\n");
    assert_eq!(at(&f), (1, 18), "{}", f.message);
    // Merge keys may repeat; the same key in sibling mappings is fine.
    clean(BuiltinKind::Yaml, b"base: &b {x: 1}\nm:\n  <<: *b\n  <<: {y: 2}\n");
    // Every duplicate is reported, not only the first.
    let findings = run(BuiltinKind::Yaml, b"a: 1\na: 2\nb:\n  c: 1\n  c: 2\n");
    assert_eq!(positions(&findings), [(2, 1), (5, 3)]);
}

#[test]
fn yaml_accepts_what_yaml_1_2_allows() {
    clean(BuiltinKind::Yaml, b"a: !!null\nb: !!str\nc: !local x\n");
    clean(BuiltinKind::Yaml, b"a: 1\n...\nb: 2\n");
    clean(BuiltinKind::Yaml, b"- |\n  text\n  \tmore text after a tab\n");
    // An explicit key at the very end: the end of the stream ends it.
    clean(BuiltinKind::Yaml, b"x: 1\n?");
    clean(BuiltinKind::Yaml, b"a: b?");
    assert_eq!(at(&one(BuiltinKind::Yaml, b"[a, ?")), (1, 6));
    // UTF-16 and UTF-32, with or without a byte order mark.
    let utf16: Vec<u8> = "\u{feff}a: \u{e9}\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    clean(BuiltinKind::Yaml, &utf16);
    let utf16be: Vec<u8> = "a: 1\nb: 2\na: 3\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let f = one(BuiltinKind::Yaml, &utf16be);
    assert_eq!(at(&f), (3, 1), "located in characters, not bytes: {}", f.message);
    let utf32: Vec<u8> = "a: [1\n".chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
    assert_eq!(one(BuiltinKind::Yaml, &utf32).line, Some(2));
}

/// A `%YAML` directive of another major version is refused, as YAML 1.2
/// says; a later minor one is read as 1.2, with a warning; 1.0 to 1.2 and
/// a `%YAML` line inside a scalar are nothing.
#[test]
fn yaml_version_directives() {
    let f = one(BuiltinKind::Yaml, b"# a comment\n%YAML 2.0\n---\na: 1\n");
    assert_eq!((at(&f), f.severity), ((2, 1), Severity::Error), "{f:?}");
    assert!(f.message.contains("`%YAML 2.0`"), "{f:?}");
    // In a later document, after the directives of its own.
    let f = one(BuiltinKind::Yaml, b"a: 1\n...\n%TAG ! tag:x,2000:\n%YAML 3.1 # later\n--- !x\nb\n");
    assert_eq!((at(&f), f.severity), ((4, 1), Severity::Error), "{f:?}");
    let f = one(BuiltinKind::Yaml, b"%YAML 1.3\n---\na: 1\n");
    assert_eq!((at(&f), f.severity), ((1, 1), Severity::Warning), "{f:?}");
    for fine in [&b"%YAML 1.2\n---\na: 1\n"[..], b"%YAML 1.1\n--- a\n", b"--- |\n  %YAML 2.0\n", b"a: \"%YAML 2.0\"\n"]
    {
        clean(BuiltinKind::Yaml, fine);
    }
}

/// A multi-line flow collection whose lines (its closing bracket) sit at
/// the key's column, as Compose and CI files write them: the parser
/// refuses it after a quoted first entry (not after a plain one), which is
/// said as a warning at the line it stopped at, not as a syntax error. A
/// block line too shallow stays an error.
#[test]
fn yaml_a_flow_collection_at_the_blocks_column_is_a_warning() {
    let compose = "services:\n  web:\n    command: [\n      \"npm\",\n      \"start\"\n    ]\n";
    for (content, position) in
        [(compose, (6, 5)), ("args: [\n  \"--port\",\n  \"8080\"\n]\n", (4, 1)), ("r: [\n  'x'\n]\n", (3, 1))]
    {
        let f = one(BuiltinKind::Yaml, content.as_bytes());
        assert_eq!((f.severity, at(&f)), (Severity::Warning, position), "{content:?}: {}", f.message);
        assert!(f.message.starts_with("a line of a flow collection"), "{}", f.message);
    }
    for content in ["r: [\n  1\n]\n", "r: [\n  y, 'x'\n]\n", "r: [\n  'x'\n  ]\n"] {
        clean(BuiltinKind::Yaml, content.as_bytes());
    }
    let f = one(BuiltinKind::Yaml, b"a:\n  b: 1\n c: 2\n");
    assert_eq!(f.severity, Severity::Error, "{}", f.message);
    // A block entry or key where the collection's lines would go: it was
    // never closed (an error, as every parser has it).
    for (content, position) in [
        (&b"- a: [b\n# c\n- c\n"[..], (3, 1)),
        (b"top:\n  - a: [b\n  # c\n  - c\n", (4, 3)),
        (b"- a: {b: 1\n# c\n- c\n", (3, 1)),
    ] {
        let f = one(BuiltinKind::Yaml, content);
        let shown = String::from_utf8_lossy(content);
        assert_eq!((f.severity, at(&f)), (Severity::Error, position), "{shown:?}: {}", f.message);
        assert!(
            f.message.starts_with("a flow collection (`[`, `{`) opened above is not closed"),
            "{shown:?}: {}",
            f.message
        );
    }
    // So is a key the collection does not go on after, in a flow mapping
    // too (the parser's words differ there).
    for content in [&b"k: [a\n# x\nm: 1\n"[..], b"x:\n  a: {b: 1,\n  # c\n  c: d\n", b"a:\n  t: [b\n  # c\n  s: []\n"] {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(f.severity, Severity::Error, "{:?}: {}", String::from_utf8_lossy(content), f.message);
        assert!(f.message.starts_with("a flow collection (`[`, `{`) opened above is not closed"), "{}", f.message);
    }
    // A flow pair at the block's column, which the collection goes on
    // after (a `,` or a closing bracket), keeps the warning, as does a flow
    // mapping's line there.
    for content in [
        &b"x: [\n  \"first\",\na: b\n]\n"[..],
        b"x: [\n  \"a\",\n? b\n]\n",
        b"x: [\n  \"a\",\nb: c]\n",
        b"x: {\n  \"a\": 1,\nb: 2\n}\n",
    ] {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(f.severity, Severity::Warning, "{:?}: {}", String::from_utf8_lossy(content), f.message);
    }
}

#[test]
fn yaml_a_quoted_scalar_continued_at_its_keys_depth_is_a_warning_at_that_line() {
    // nginx's workflow (a line at column 1), a Compose healthcheck in a flow
    // sequence (at the key's column), single-quoted, after CRLF, and after
    // an escaped quote and a blank line (neither of which is the line).
    for (content, line, column) in [
        (&b"jobs:\n  with:\n    msg: \"a **b**\n\nIf you feel\" \n    days: 1\n"[..], 5, 1),
        (b"h:\n  test: [\"a b \\\n  c\"]\n  n: 1\n", 3, 3),
        (b"a:\n  b: 'it''s\n  x'\n", 3, 3),
        (b"a:\r\n  b: \"x\r\n\r\n    y \\\" z\r\n z\"\r\n", 5, 2),
    ] {
        let f = one(BuiltinKind::Yaml, content);
        let shown = String::from_utf8_lossy(content);
        assert_eq!(f.severity, Severity::Warning, "{shown:?}: {}", f.message);
        assert!(f.message.starts_with("a line of a quoted scalar indented no deeper than the key"), "{}", f.message);
        assert_eq!(at(&f), (line, column), "{shown:?}");
    }
    // Indented deeper, it is YAML.
    clean(BuiltinKind::Yaml, b"a:\n  b: \"x\n   y\"\n");
}

/// After a layout libyaml and PyYAML take but the parser refuses (a flow
/// collection's or quoted scalar's line no deeper than its key), the rest of
/// the file is checked as they read it: its errors are found, at the file's
/// own lines and columns.
#[test]
fn yaml_after_a_layout_libyaml_takes_the_rest_of_the_file_is_checked() {
    // pip's .pre-commit-config.yaml, with a key given twice below.
    let pip = b"repos:\n- hooks:\n  - id: mypy\n    deps: [\n      'a',\n    ]\n    id: again\n";
    let f = run(BuiltinKind::Yaml, pip);
    assert_eq!(positions(&f), [(6, 5), (7, 5)], "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("the rest of the file is checked as they read it"), "{}", f[0].message);
    assert_eq!((f[1].severity, f[1].message.starts_with("duplicate key `id`")), (Severity::Error, true), "{f:#?}");
    // On the warning's own line, past what the rewrite indented: the
    // column is the file's (`x` at 3), and the warning is not repeated.
    let f = run(BuiltinKind::Yaml, b"a:\n  b: {\"x\": 1,\n  x: 2}\n");
    assert_eq!(positions(&f), [(3, 3), (3, 3)], "{f:#?}");
    assert!(f[1].message.starts_with("duplicate key `x`"), "{f:#?}");
    // A quoted scalar continued at column 1, then a syntax error.
    let f = run(BuiltinKind::Yaml, b"a:\n  m: \"x\ny\"\n  c: [\n");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!((at(&f[0]), f[0].severity), ((3, 1), Severity::Warning));
    assert_eq!(f[1].severity, Severity::Error, "{f:#?}");
    // Nothing more to find: the warning alone.
    assert_eq!(run(BuiltinKind::Yaml, b"k:\n  l: [\n    'a',\n  ]\n  n: 1\n").len(), 1);
}

#[test]
fn yaml_a_reserved_first_character_is_said_as_what_it_is() {
    let f = one(BuiltinKind::Yaml, b"a: %x\n");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.message,
        "a plain scalar cannot begin with `%`: `%` begins a directive, at a document's start (YAML 1.2, section 5.3); quote it"
    );
    let f = one(BuiltinKind::Yaml, b"a: @x\n");
    assert_eq!(
        f.message,
        "a plain scalar cannot begin with `@`: YAML reserves `@` and the backtick (YAML 1.2, section 5.3); quote it"
    );
    // YAML 1.0's header (Symfony's YAML test suite): a warning that says so.
    for content in [&b"--- %YAML:1.0\nfoo: bar\n"[..], b"# c\n--- %YAML:1.0\r\nfoo: bar\r\n"] {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(f.severity, Severity::Warning, "{}", f.message);
        assert!(f.message.starts_with("`--- %YAML:1.0` is YAML 1.0's header"), "{}", f.message);
    }
}

#[test]
fn yaml_a_tab_after_an_indicator_is_a_warning_and_tab_indentation_an_error() {
    for content in [&b"key:\tvalue\n"[..], b"? \ta\n: b\n", b"?\tkey\n: v\n"] {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(f.severity, Severity::Warning, "{:?}: {}", String::from_utf8_lossy(content), f.message);
        assert!(f.message.starts_with("a tab after `:`, `?` or `-`: YAML 1.2 allows it"), "{}", f.message);
    }
    // A tab after the spaces indenting an explicit key's content, before a
    // scalar or a flow collection: allowed, refused by the parser.
    for content in [&b"?\n \tx\n"[..], b"?\n  \t\"v\"\n", b"? # c\n \t{a: 1}\n", b"?\r \t[1]\r"] {
        let f = one(BuiltinKind::Yaml, content);
        let shown = String::from_utf8_lossy(content);
        assert_eq!(f.severity, Severity::Warning, "{shown:?}: {}", f.message);
        assert!(f.message.starts_with("a tab after the spaces indenting"), "{shown:?}: {}", f.message);
    }
    // Not before a block collection, nor without a space first.
    for content in
        [&b"?\n \t- v\n"[..], b"?\n\tx\n", b"?\n \tk: v\n", b"?\n \t? k\n", b"a:\n  ?\n \tfoo\n", b"a:\n  ?\n  \tfoo\n"]
    {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(f.severity, Severity::Error, "{:?}: {}", String::from_utf8_lossy(content), f.message);
        assert!(
            f.message.starts_with("a tab in the indentation"),
            "{:?}: {}",
            String::from_utf8_lossy(content),
            f.message
        );
    }
    // What the parser takes is not reported at all.
    clean(BuiltinKind::Yaml, b"a:\t\"x\"\nb:\t c\n");
    clean(BuiltinKind::Yaml, b"-\tbaz\n");
    let f = one(BuiltinKind::Yaml, b"a:\n\tb: 1\n");
    assert_eq!((f.severity, at(&f)), (Severity::Error, (2, 1)), "{}", f.message);
    // Before a block collection the tab would be indentation: an error.
    for content in [&b"? -\n:\t-\n"[..], b"? key:\n:\tkey:\n", b"a:\tb: c\n"] {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(f.severity, Severity::Error, "{:?}: {}", String::from_utf8_lossy(content), f.message);
    }
}

/// YAML indents with spaces only. The parser refuses a
/// tab there except at the top level and after `- `; the check refuses it
/// everywhere, and points at the tab even where the parser stopped earlier
/// (at the node before) or later (past it).
#[test]
fn yaml_a_tab_indenting_a_block_collection_is_an_error_at_the_tab() {
    for (content, at_) in [
        (&b"\ta: 1\n"[..], (1, 1)),
        (b" \ta: 1\n", (1, 2)),
        (b"\t\"a\": 1\n", (1, 1)),
        (b"\t&x a: 1\n", (1, 1)),
        (b"\t- a\n", (1, 1)),
        (b"---\n\ta: 1\n", (2, 1)),
        (b"- \ta: 1\n", (1, 3)),
        (b"\xc3\xa9: {x: 1}\nb:\n- \t\xc3\xa9: 1\n", (3, 3)),
        (b"a:\n  b: 1\n\tc: 2\n", (3, 1)),
        (b"- a: 1\n \tb: 2\n", (2, 2)),
        (b"x:\n  y:\n\t  z: 1\n", (3, 1)),
        (b"- a\n\n# c\n\t- b\n", (4, 1)),
        (b"\xc3\xa9: [\xc3\xa9]\n\t[\xc3\xa9]: 1\n", (2, 1)),
        (b"- \t- x\n", (1, 3)),
        (b"ab:\n  - \t- x\n", (2, 5)),
        (b"k:\n- [\n\t1]\n", (3, 1)),
        // The lines of a flow collection inside a block one: spaces past
        // the block's column first.
        (b"flow: [a,\n\tb]\n", (2, 1)),
        (b"a: {x: 1,\n\ty: 2}\n", (2, 1)),
        (b"- [a,\n\tfoo,\n foo\n ]\n", (2, 1)),
        (b"a:\n  b: [1, [2,\n \t3]]\n", (3, 2)),
        // After an anchor or a tag on the line before.
        (b"- &x\n\t- b\n", (2, 1)),
        (b"- !!seq\n\t- b\n", (2, 1)),
        (b"p: &a\n \t- v\n", (2, 2)),
        (b"r:\n  p: !t\n   \t? k\n", (3, 4)),
        (b"&a\n\tk: v\n", (2, 1)),
        // A scalar or a flow collection beginning its line in a block
        // collection, after its anchor or tag too.
        (b"- &a\n\tv\n", (2, 1)),
        (b"p: !t\n\t\"v\"\n", (2, 1)),
        (b"? &a\n\tv\n", (2, 1)),
        (b"r:\n  p: &a\n  \t[1]\n", (3, 3)),
    ] {
        let f = one(BuiltinKind::Yaml, content);
        let shown = String::from_utf8_lossy(content);
        assert_eq!((f.severity, at(&f)), (Severity::Error, at_), "{shown:?}: {}", f.message);
        assert!(f.message.starts_with("a tab in the indentation"), "{shown:?}: {}", f.message);
    }
    // A line of 40,000 nested compact sequences: its start is read once,
    // not once per `-`.
    quick(|| run(BuiltinKind::Yaml, format!("{}x\n", "- ".repeat(40_000)).as_bytes()));
    // Tabs YAML allows: before a flow collection or a scalar, inside flow
    // collections, on lines with nothing else, after a scalar's indentation.
    for content in [
        &b"\t[\n\t]\n"[..],
        b"\t{}\n",
        b"{\n\ta: 1}\n",
        b"&a {\n\tx: 1}\n",
        b"- !!map &b {\n  \tx: 1}\n",
        b"- [\n\t\n foo\n ]\n",
        b"foo: 1\n\t\nbar: 2\n",
        b"foo:\n \tbar\n",
        b"-\t-1\n",
        b"1st\n\t2nd\n",
        b"\xc3\xa9: 1\nb: {\n \tc: 1}\n",
        b"a: 1\n\t# a comment\n",
        b"- &x\n  - b\n",
        b"- &a\n \tv\n",
        b"p: !t\n \t\"v\"\n",
        b"r:\n  p: &a\n   \t[1]\n",
        b"[a,\n\tb]\n",
        b"flow: [a,\n \tb]\n",
        b"a: [1, # c\n\t# only a comment\n\t\n 2]\n",
        b"a:\n  b: [1,\n   \t2]\n",
        // Blanks or a comment after the bracket, an anchor before it, an
        // implicit pair inside: still flow collections.
        b"{ a: 1,\n\tb: 2 }\n",
        b"x: { a: 1,\n  \tb: 2 }\n",
        b"{ # c\n\ta: 1}\n",
        b"[ [\n\t1]]\n",
        b"a: &x { b: 1,\n \tc: 2}\n",
        b"[\n\ta: 1\n]\n",
        b"k: [\n  \ta: 1]\n",
        // An indentless sequence: its column is its dash's.
        b"a:\n-\tx\n- y\n",
        b"k:\n- [\n \t1]\n",
        b"k:\n- {a: 1,\n \tb: 2}\n",
        b"\t&a\nk: v\n",
    ] {
        clean(BuiltinKind::Yaml, content);
    }
}

#[test]
fn yaml_a_key_without_its_colon_is_found_on_its_own_line() {
    for (content, at_) in [
        (&b"foo: bar\ninvalid\n\n\n\n# c\n"[..], (2, 1)),
        (b"a:\n  b: 1\n  c\n\n\n\nd: 2\n", (3, 3)),
        (b"foo: bar\ninvalid", (2, 1)),
        (b"foo: bar\rinvalid\r\r# c\r", (2, 1)),
    ] {
        let f = one(BuiltinKind::Yaml, content);
        assert_eq!(at(&f), at_, "{:?}: {}", String::from_utf8_lossy(content), f.message);
        assert!(f.message.starts_with("could not find the `:` after this key"), "{}", f.message);
    }
}

/// A surrogate pair of `\u` escapes (JSON's way to write U+1F600) is an
/// error in YAML, as libyaml and go-yaml have it: said so, at the escape.
#[test]
fn yaml_surrogate_escapes_are_named_at_the_escape() {
    let f = one(BuiltinKind::Yaml, b"a: \"x\\ud83d\\ude00\"\n");
    assert_eq!(at(&f), (1, 6), "{}", f.message);
    assert!(f.message.contains("surrogate pair") && f.message.contains("`\\U0001F600`"), "{}", f.message);
    // A lone one, on a later line of a multi-line scalar, after other escapes.
    let f = one(BuiltinKind::Yaml, b"k: 1\nb: \"\\t\\\"q\n  \\U0001F600 \\uDC00\"\n");
    assert_eq!(at(&f), (3, 14), "{}", f.message);
    assert!(f.message.contains("`\\uDC00` is a lone UTF-16 surrogate"), "{}", f.message);
    // Another bad escape first: the parser's words.
    let f = one(BuiltinKind::Yaml, b"a: \"\\U00110000 \\ud800\"\n");
    assert!(f.message.contains("invalid Unicode character escape"), "{}", f.message);
}

#[test]
fn yaml_a_key_past_1024_characters_is_named_as_such() {
    let content = format!("a: 1\n{}: v\n", "k".repeat(1100));
    let f = one(BuiltinKind::Yaml, content.as_bytes());
    assert_eq!(at(&f), (2, 1), "{}", f.message);
    assert!(f.message.starts_with("a key longer than 1024 characters"), "{}", f.message);
    clean(BuiltinKind::Yaml, format!("? {}\n: v\n", "k".repeat(1100)).as_bytes());
    // The first key of the file, or a quoted one: the parser's words differ.
    for content in [format!("{}: 1\n", "k".repeat(1500)), format!("a: 1\n\"{}\": 1\n", "k".repeat(1500))] {
        let f = one(BuiltinKind::Yaml, content.as_bytes());
        assert!(f.message.starts_with("a key longer than 1024 characters"), "{}", f.message);
        assert_eq!(f.column, Some(1));
    }
    // A short key over two lines is a missing colon on the first.
    let f = one(BuiltinKind::Yaml, b"a: 1\nb\n  c: 2\n");
    assert_eq!(at(&f), (2, 1), "{}", f.message);
    assert!(f.message.starts_with("could not find the `:` after this key"), "{}", f.message);
    // In a sequence, a line without its `- `: not said to be a mapping's.
    for content in
        [&b"- a\nb\n"[..], b"k:\n  - a\n  - b\n  c\nd: 1\n", b"%YAML 1.2\n---\n- a\nb\n", b"a: 1\n---\n- a\nb\n"]
    {
        let f = one(BuiltinKind::Yaml, content);
        assert!(f.message.starts_with("this line is not an entry of the sequence above"), "{}", f.message);
    }
    assert_eq!(at(&one(BuiltinKind::Yaml, b"- a\nb\n")), (2, 1));
    // A sequence at its key's column: the line may as well miss its `:`.
    let f = one(BuiltinKind::Yaml, b"containers:\n- name: a\n  image: b\nvolumes\n");
    assert!(f.message.starts_with("could not find the `:` after this key"), "{}", f.message);
}

#[test]
fn yaml_nan_is_a_float_key() {
    clean(BuiltinKind::Yaml, b".nan: 1\n'.nan': 2\n");
    assert_eq!(at(&one(BuiltinKind::Yaml, b".nan: 1\n.NaN: 2\n")), (2, 1));
}

#[test]
fn yaml_an_alias_cannot_reach_into_an_earlier_document() {
    let f = one(BuiltinKind::Yaml, b"a: &x 1\n---\nb: *x\n");
    assert_eq!((f.severity, at(&f)), (Severity::Error, (3, 4)));
    assert!(f.message.starts_with("undefined alias"), "{}", f.message);
    clean(BuiltinKind::Yaml, b"a: &x 1\nb: *x\n---\nc: &x 2\nd: *x\n");
    // One never anchored at all is named.
    let f = one(BuiltinKind::Yaml, b"a: 1\nb: [*nope, 2]\n");
    assert_eq!((f.severity, at(&f)), (Severity::Error, (2, 5)));
    assert_eq!(f.message, "undefined alias `*nope`: no anchor `&nope` comes before it in its document");
}

#[test]
fn yaml_verbatim_core_tags_are_the_core_types() {
    let f = one(BuiltinKind::Yaml, b"!<tag:yaml.org,2002:int> \"16\": a\n16: b\n");
    assert_eq!(at(&f), (2, 1));
    let f = one(BuiltinKind::Yaml, b"!<tag:yaml.org,2002:str> 1: a\n\"1\": b\n");
    assert_eq!(at(&f), (2, 1));
    // A collection tagged with its own core type, or `!`, is that
    // collection; another tag makes another value.
    for content in [
        &b"? !!seq [1, 2]\n: a\n? [1, 2]\n: b\n"[..],
        b"? !<tag:yaml.org,2002:seq> [1, 2]\n: a\n? [1, 2]\n: b\n",
        b"? ! [1, 2]\n: a\n? [1, 2]\n: b\n",
        b"? !!map {a: 1}\n: a\n? {a: 1}\n: b\n",
    ] {
        assert_eq!(at(&one(BuiltinKind::Yaml, content)), (3, 3), "{:?}", String::from_utf8_lossy(content));
    }
    clean(BuiltinKind::Yaml, b"? !!set {a: null}\n: a\n? {a: null}\n: b\n");
    clean(BuiltinKind::Yaml, b"? !mine [1, 2]\n: a\n? [1, 2]\n: b\n");
}

#[test]
fn yaml_aliases_are_never_expanded() {
    // A billion laughs: ten to the fortieth leaves, checked in no time.
    let mut laughs = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..40 {
        let p = format!("*l{}", i - 1);
        laughs.push_str(&format!("l{i}: &l{i} [{}]\n", [p.as_str(); 10].join(", ")));
    }
    quick(|| clean(BuiltinKind::Yaml, laughs.as_bytes()));
    // And still compared as keys.
    laughs.push_str("? *l39\n: 1\n? *l39\n: 2\n");
    let f = quick(|| one(BuiltinKind::Yaml, laughs.as_bytes()));
    assert_eq!(f.message, "duplicate key (a sequence) via an alias (first at line 41)");
}

#[test]
fn yaml_nesting_past_the_parsers_limit_is_a_warning_not_an_error() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let f = one(BuiltinKind::Yaml, deep.as_bytes());
    assert_eq!((f.severity, at(&f)), (Severity::Warning, (1, 256)));
    assert!(f.message.contains("nested more than 255 deep"), "{}", f.message);
    clean(BuiltinKind::Yaml, format!("{}{}", "[".repeat(255), "]".repeat(255)).as_bytes());
    // Block nesting has no such limit.
    let block: String = (0..2_000).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
    clean(BuiltinKind::Yaml, block.as_bytes());
}

#[test]
fn a_byte_order_mark_is_not_content() {
    // merge-conflict: the marker on the first line, after the BOM.
    let findings = run(BuiltinKind::MergeConflict, b"\xef\xbb\xbf<<<<<<< HEAD\na\n=======\nb\n>>>>>>> br\n");
    assert_eq!(positions(&findings), [(1, 1), (3, 1), (5, 1)]);
    // final-newline: a BOM alone is an empty file; a BOM and a newline is a
    // blank line, as a newline alone is.
    clean(BuiltinKind::FinalNewline, b"\xef\xbb\xbf");
    let f = one(BuiltinKind::FinalNewline, b"\xef\xbb\xbf\n");
    assert_eq!((at(&f), f.message.as_str()), ((1, 1), "file contains only 1 blank line"));
    let f = one(BuiltinKind::FinalNewline, b"\n");
    assert_eq!(f.message, "file contains only 1 blank line");
    clean(BuiltinKind::FinalNewline, b"\xef\xbb\xbfa\n");
    let f = one(BuiltinKind::FinalNewline, b"\xef\xbb\xbfa\n\n");
    assert_eq!((at(&f), f.message.as_str()), ((2, 1), "file ends with 1 blank line"));
}

#[test]
fn yaml_invalid_utf8() {
    let f = one(BuiltinKind::Yaml, b"a: b\nc: \xFF\n");
    assert_eq!(at(&f), (2, 4));
    assert!(f.message.contains("UTF-8"), "{}", f.message);
    assert!(!f.message.contains("position"), "{}", f.message);
}

#[test]
fn yaml_ten_megabyte_line() {
    let mut content = b"key: ".to_vec();
    content.resize(TEN_MB, b'v');
    content.push(b'\n');
    quick(|| clean(BuiltinKind::Yaml, &content));
}

// ----------------------------------------------------------------- secrets ----

/// Deterministic fake credential characters (never a real key).
fn fake(len: usize, alphabet: &[u8]) -> String {
    (0..len).map(|i| alphabet[(i * 7 + 3) % alphabet.len()] as char).collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// (content, expected message fragment, the secret that must not appear).
fn secret_samples() -> Vec<(String, &'static str, String)> {
    let gh = format!("ghp_{}", fake(36, ALNUM));
    let pat = format!("github_pat_{}_{}", fake(22, ALNUM), fake(59, ALNUM));
    let akia = format!("AKIA{}", fake(16, UPPER));
    let asia = format!("ASIA{}", fake(16, UPPER));
    let aws_secret = fake(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    let slack = "xoxb-2048123456-4096123456-AbCdEfGhIjKlMnOpQrStUvWx".to_owned();
    let google = format!("AIza{}", fake(35, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"));
    let stripe = format!("sk_live_{}", fake(24, ALNUM));
    let pem_body = "MIIEowIBAAKCAQEAx4UbaDzY5xjW6hc7W0BCfzVZ2p0K+gIvGr6WOLYS/8Ev";
    vec![
        (format!("token = \"{gh}\"\n"), "GitHub token (`ghp_`…)", gh.clone()),
        (format!("GITHUB_TOKEN={pat}\n"), "GitHub fine-grained", pat.clone()),
        (format!("key_id: {akia}\n"), "AWS access key ID (`AKIA`…)", akia.clone()),
        (format!("[{asia}]"), "AWS access key ID (`ASIA`…)", asia.clone()),
        (
            format!("aws_secret_access_key = {aws_secret}\n"),
            "AWS secret access key assigned to `aws_secret_access_key`",
            aws_secret.clone(),
        ),
        (format!("{{\"AWS_SECRET_ACCESS_KEY\": \"{aws_secret}\"}}"), "AWS secret access key", aws_secret.clone()),
        (format!("aws-secret-access-key: {aws_secret}\n"), "`aws-secret-access-key`", aws_secret.clone()),
        (format!("Aws-Secret-Access-Key: {aws_secret}\n"), "`Aws-Secret-Access-Key`", aws_secret.clone()),
        (format!("{{\"AwsSecretAccessKey\": \"{aws_secret}\"}}"), "`AwsSecretAccessKey`", aws_secret.clone()),
        (
            format!("aws configure set aws_secret_access_key {aws_secret}\n"),
            "`aws_secret_access_key`",
            aws_secret.clone(),
        ),
        (format!("slack: '{slack}'\n"), "Slack token (`xoxb`…)", slack.clone()),
        (format!("const KEY = \"{google}\";\n"), "Google API key (`AIza`…)", google.clone()),
        (format!("STRIPE={stripe}\n"), "Stripe live secret key (`sk_l`…)", stripe.clone()),
        (
            format!("-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----\n"),
            "RSA PRIVATE KEY",
            pem_body.to_owned(),
        ),
        (format!("-----BEGIN OPENSSH PRIVATE KEY-----\r\n{pem_body}\r\n"), "OPENSSH PRIVATE KEY", pem_body.to_owned()),
        (format!("-----BEGIN EC PRIVATE KEY-----\n{pem_body}\n"), "EC PRIVATE KEY", pem_body.to_owned()),
        (format!("-----BEGIN DSA PRIVATE KEY-----\n{pem_body}\n"), "DSA PRIVATE KEY", pem_body.to_owned()),
        (format!("-----BEGIN ENCRYPTED PRIVATE KEY-----\n{pem_body}\n"), "ENCRYPTED PRIVATE KEY", pem_body.to_owned()),
        (format!("-----BEGIN PRIVATE KEY-----\n{pem_body}\n"), "`-----BEGIN PRIVATE KEY-----`", pem_body.to_owned()),
        (
            format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF{pem_body}\n"),
            "PGP PRIVATE KEY BLOCK",
            pem_body.to_owned(),
        ),
        // A key embedded in a JSON string, and one indented in YAML.
        (format!("{{\"key\": \"-----BEGIN PRIVATE KEY-----\\n{pem_body}\\n\"}}"), "PRIVATE KEY", pem_body.to_owned()),
        (format!("key: |\n  -----BEGIN RSA PRIVATE KEY-----\n  {pem_body}\n"), "RSA PRIVATE KEY", pem_body.to_owned()),
        // Commented out: still committed.
        (format!("# -----BEGIN RSA PRIVATE KEY-----\n# {pem_body}\n"), "RSA PRIVATE KEY", pem_body.to_owned()),
        (format!("  // -----BEGIN EC PRIVATE KEY-----\r\n  // {pem_body}\r\n"), "EC PRIVATE KEY", pem_body.to_owned()),
        (format!("/*\n * -----BEGIN PRIVATE KEY-----\n * {pem_body}\n */\n"), "PRIVATE KEY", pem_body.to_owned()),
        (format!(";; -----BEGIN DSA PRIVATE KEY-----\n;; {pem_body}\n"), "DSA PRIVATE KEY", pem_body.to_owned()),
        (format!("/// -----BEGIN PRIVATE KEY-----\n/// {pem_body}\n"), "PRIVATE KEY", pem_body.to_owned()),
        (format!("//! -----BEGIN PRIVATE KEY-----\n//! {pem_body}"), "PRIVATE KEY", pem_body.to_owned()),
        (format!("-- -----BEGIN PRIVATE KEY-----\n-- {pem_body}\n"), "PRIVATE KEY", pem_body.to_owned()),
        // Commented-out code that built the key, a line with a blank after
        // it, one longer than a name is followed, `\/` escapes, an
        // encrypted block.
        (
            format!("// String k = \"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n//     \"{pem_body}\\n\" +\n"),
            "RSA PRIVATE KEY",
            pem_body.to_owned(),
        ),
        (
            format!("#    \"-----BEGIN RSA PRIVATE KEY-----\\n\"\n#    \"{pem_body}\\n\"\n"),
            "RSA PRIVATE KEY",
            pem_body.to_owned(),
        ),
        (format!("# -----BEGIN EC PRIVATE KEY-----\n# {pem_body} \n"), "EC PRIVATE KEY", pem_body.to_owned()),
        (format!("# -----BEGIN PRIVATE KEY-----\n# {}\n", pem_body.repeat(5)), "PRIVATE KEY", pem_body.to_owned()),
        (
            format!("# -----BEGIN PRIVATE KEY-----\n# {}\n", pem_body.replace('/', "\\/")),
            "PRIVATE KEY",
            pem_body.to_owned(),
        ),
        (
            "# -----BEGIN RSA PRIVATE KEY-----\n# Proc-Type: 4,ENCRYPTED\n# DEK-Info: AES-128-CBC,3F17F5316E2BAC89\n"
                .to_owned(),
            "RSA PRIVATE KEY",
            "Proc-Type".to_owned(),
        ),
        // Material starting with `+` in the next string literal.
        (
            format!("k = \"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n    \"+{}\\n\"\n", &pem_body[1..]),
            "RSA PRIVATE KEY",
            pem_body[1..].to_owned(),
        ),
        // A C string continued with a backslash; JSON in a JSON string; PHP's `\/`.
        (
            format!("char *k = \"-----BEGIN RSA PRIVATE KEY-----\\n\\\n{pem_body}\\n\";\n"),
            "RSA PRIVATE KEY",
            pem_body.to_owned(),
        ),
        (
            format!("{{\"doc\": \"{{\\\"key\\\": \\\"-----BEGIN PRIVATE KEY-----\\\\n{pem_body}\"}}"),
            "PRIVATE KEY",
            pem_body.to_owned(),
        ),
        (
            "{\"key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEow\\/IBAA\\/KCAQEAx4U\\/baDzY5x\\/jW6hc7\"}".to_owned(),
            "PRIVATE KEY",
            "MIIEow".to_owned(),
        ),
        // AWS secrets assigned through a subscript, or passed with their name.
        (
            format!("os.environ[\"AWS_SECRET_ACCESS_KEY\"] = \"{aws_secret}\"\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (format!("ENV['AWS_SECRET_ACCESS_KEY'] = '{aws_secret}'\n"), "`AWS_SECRET_ACCESS_KEY`", aws_secret.clone()),
        (format!("creds[:aws_secret_access_key] = \"{aws_secret}\"\n"), "`aws_secret_access_key`", aws_secret.clone()),
        (
            format!("os.Setenv(\"AWS_SECRET_ACCESS_KEY\", \"{aws_secret}\")\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (
            format!("os.environ.setdefault(\n    \"AWS_SECRET_ACCESS_KEY\", \"{aws_secret}\"\n)\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (format!("{{\"aws_secret_access_key\", \"{aws_secret}\"}},\n"), "`aws_secret_access_key`", aws_secret.clone()),
        // The value on a line of its own: a call broken by a formatter, a
        // YAML value.
        (
            format!("vi.stubEnv(\n  \"AWS_SECRET_ACCESS_KEY\",\n  \"{aws_secret}\",\n);\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (
            format!("os.Setenv(\"AWS_SECRET_ACCESS_KEY\",\r\n\t\"{aws_secret}\")\r\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (format!("aws_secret_access_key:\n  {aws_secret}\n"), "`aws_secret_access_key`", aws_secret.clone()),
        (
            format!("    let aws_secret_access_key =\n        \"{aws_secret}\".to_string();\n"),
            "`aws_secret_access_key`",
            aws_secret.clone(),
        ),
        // Name/value pairs: Kubernetes, CloudFormation, ECS, Terraform; and
        // the Java SDK's property.
        (
            format!("env:\n  - name: AWS_SECRET_ACCESS_KEY\n    value: {aws_secret}\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (
            format!("- Name: AWS_SECRET_ACCESS_KEY\r\n  Value: '{aws_secret}'\r\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (
            format!("{{\"name\": \"AWS_SECRET_ACCESS_KEY\", \"value\": \"{aws_secret}\"}}"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (
            format!("{{ name = \"AWS_SECRET_ACCESS_KEY\", value = \"{aws_secret}\" }},\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (format!("aws.secretKey={aws_secret}\n"), "`aws.secretKey`", aws_secret.clone()),
        // Typed constants: Rust, TypeScript, Kotlin, Python's annotation, Go.
        (
            format!("const AWS_SECRET_ACCESS_KEY: &str = \"{aws_secret}\";\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (
            format!("pub static AWS_SECRET_KEY: &'static str = \"{aws_secret}\";\n"),
            "`AWS_SECRET_KEY`",
            aws_secret.clone(),
        ),
        (format!("const awsSecretKey: string = '{aws_secret}';\n"), "`awsSecretKey`", aws_secret.clone()),
        (format!("val awsSecretKey: String = \"{aws_secret}\"\n"), "`awsSecretKey`", aws_secret.clone()),
        (
            format!("AWS_SECRET_ACCESS_KEY: Final[str] = \"{aws_secret}\"\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (format!("var awsSecretKey string = \"{aws_secret}\"\n"), "`awsSecretKey`", aws_secret.clone()),
        // black's parentheses around a long string, a YAML block scalar.
        (
            format!("AWS_SECRET_ACCESS_KEY = (\n    \"{aws_secret}\"\n)\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
        (format!("aws_secret_access_key: |\n  {aws_secret}\n"), "`aws_secret_access_key`", aws_secret.clone()),
        (format!("aws_secret_access_key: >-\r\n  {aws_secret}\r\n"), "`aws_secret_access_key`", aws_secret.clone()),
        // A union type, a type of 64 bytes before a blank, C's `[]`, Go's
        // tab, block indicators with an indentation or a comment, a comment
        // after black's parenthesis.
        (
            format!("aws_secret_access_key: str | None = \"{aws_secret}\"\n"),
            "`aws_secret_access_key`",
            aws_secret.clone(),
        ),
        (format!("const awsSecretKey: {} = \"{aws_secret}\";\n", "A".repeat(64)), "`awsSecretKey`", aws_secret.clone()),
        (format!("static const char aws_secret_key[] = \"{aws_secret}\";\n"), "`aws_secret_key`", aws_secret.clone()),
        (format!("var awsSecretKey string\t= \"{aws_secret}\"\n"), "`awsSecretKey`", aws_secret.clone()),
        (format!("aws_secret_access_key: |2\n  {aws_secret}\n"), "`aws_secret_access_key`", aws_secret.clone()),
        (
            format!("aws_secret_access_key: |  # from vault\n  {aws_secret}\n"),
            "`aws_secret_access_key`",
            aws_secret.clone(),
        ),
        (
            format!("AWS_SECRET_ACCESS_KEY = (  # noqa: S105\r\n    \"{aws_secret}\"\r\n)\n"),
            "`AWS_SECRET_ACCESS_KEY`",
            aws_secret.clone(),
        ),
    ]
}

#[test]
fn secrets_found_without_revealing_them() {
    for (content, fragment, secret) in secret_samples() {
        let f = one(BuiltinKind::Secrets, content.as_bytes());
        assert!(f.message.contains(fragment), "{content:?}: {}", f.message);
        assert!(!f.message.contains(&secret[..5.min(secret.len())]), "{content:?} leaks: {}", f.message);
        assert!(!f.message.contains(&secret[4..]), "{content:?} leaks: {}", f.message);
        assert_eq!(f.severity, Severity::Error);
    }
}

#[test]
fn secrets_position() {
    let gh = format!("ghp_{}", fake(36, ALNUM));
    let content = format!("line one\n  héllo = \"{gh}\"\n");
    assert_eq!(at(&one(BuiltinKind::Secrets, content.as_bytes())), (2, 12));
    let content = format!("x\r\n\r\n-----BEGIN EC PRIVATE KEY-----\r\nMIIB{}\r\n", fake(40, ALNUM));
    assert_eq!(at(&one(BuiltinKind::Secrets, content.as_bytes())), (3, 1));
    // The AWS secret is reported at its name.
    let content = format!("[default]\nexport AWS_SECRET_ACCESS_KEY='{}'\n", fake(40, ALNUM));
    let f = one(BuiltinKind::Secrets, content.as_bytes());
    assert_eq!(at(&f), (2, 8));
    assert!(f.message.contains("`AWS_SECRET_ACCESS_KEY`"), "{}", f.message);
}

#[test]
fn secrets_on_a_line_marked_as_allowed_are_not_reported() {
    let mut tried = 0;
    for (content, _, _) in secret_samples() {
        let lines: Vec<&str> = content.split_inclusive('\n').collect();
        let at = one(BuiltinKind::Secrets, content.as_bytes()).line.unwrap() as usize - 1;
        // The finding's line, ending in a comment: where that comment is no
        // marker, the secret must still be found (some are not: a PEM
        // header holds nothing else on its line), or the marker is not
        // what hides it.
        let with = |comment: &str| -> String {
            let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            lines[at] = format!("{}  {comment}\n", lines[at].trim_end_matches('\n'));
            lines.concat()
        };
        if run(BuiltinKind::Secrets, with("# just a comment").as_bytes()).len() != 1 {
            continue;
        }
        tried += 1;
        for marker in ["# verdict:allow", "// gitleaks:allow", "# pragma: allowlist secret"] {
            clean(BuiltinKind::Secrets, with(marker).as_bytes());
        }
    }
    assert!(tried >= 10, "only {tried} samples take a comment");
    // Only that line: the next secret is reported, as is one whose marker
    // is on another line.
    let (a, b) = (format!("ghp_{}", fake(36, ALNUM)), format!("ghp_{}", fake(36, ALNUM).to_lowercase()));
    let f = one(BuiltinKind::Secrets, format!("x = \"{a}\"  # verdict:allow\ny = \"{b}\"\n").as_bytes());
    assert_eq!(f.line, Some(2));
    let f = one(BuiltinKind::Secrets, format!("# verdict:allow\ny = \"{b}\"\n").as_bytes());
    assert_eq!(f.line, Some(2));
    // Lines end at CR in a file without LF.
    let f = one(BuiltinKind::Secrets, format!("x = \"{a}\"\r# verdict:allow\r").as_bytes());
    assert_eq!(f.line, Some(1));
}

#[test]
fn secrets_clean_lookalikes() {
    clean(BuiltinKind::Secrets, b"");
    clean(BuiltinKind::Secrets, b"fn main() { let aws_secret = std::env::var(\"AWS_SECRET_ACCESS_KEY\"); }\n");
    // Typed names whose value is no key; a comparison; an opening that does
    // not end its line, or a value not indented past the name.
    for content in [
        &b"const AWS_SECRET_ACCESS_KEY: &str = \"AWS_SECRET_ACCESS_KEY\";\n"[..],
        b"let aws_secret: String = std::env::var(\"X\").unwrap();\n",
        b"var awsSecretKey string = os.Getenv(\"AWS_SECRET_ACCESS_KEY\")\n",
        b"if aws_secret_key: str == \"q9Fz3LmR7tVb2Nc8Hd4Jf6Gs1Wy5Za0Ue3Qo7/iK\"\n",
        b"aws_secret_access_key: (\n  q9Fz3LmR7tVb2Nc8Hd4Jf6Gs1Wy5Za0Ue3Qo7/iK\n",
        b"aws_secret_access_key = |\nq9Fz3LmR7tVb2Nc8Hd4Jf6Gs1Wy5Za0Ue3Qo7/iK\n",
        // A name of 40 letters, unquoted, is code; a type past 64 bytes.
        b"awsSecretKey = defaultAwsSecretAccessKeyFromEnvironment;\n",
        b"const awsSecretKey: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA = \"q9Fz3LmR7tVb2Nc8Hd4Jf6Gs1Wy5Za0Ue3Qo7/iK\";\n",
    ] {
        clean(BuiltinKind::Secrets, content);
    }
    // PEM headers alone: a parser's constants, documentation placeholders, public keys.
    clean(BuiltinKind::Secrets, b"const RSA: &str = \"-----BEGIN RSA PRIVATE KEY-----\";\n");
    clean(BuiltinKind::Secrets, b"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n");
    clean(BuiltinKind::Secrets, b"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n");
    clean(BuiltinKind::Secrets, b"-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n");
    // AWS's documented example keys and placeholders.
    clean(
        BuiltinKind::Secrets,
        b"AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    );
    // The S3 Developer Guide's of 2006, in scrapy's signing test; one
    // character off, a key.
    let s3_guide = "AWS_SECRET_ACCESS_KEY = \"uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o\"\n";
    clean(BuiltinKind::Secrets, s3_guide.as_bytes());
    assert_eq!(run(BuiltinKind::Secrets, s3_guide.replace("j2o", "j2p").as_bytes()).len(), 1);
    clean(BuiltinKind::Secrets, format!("ghp_{}\n", "x".repeat(36)).as_bytes());
    clean(BuiltinKind::Secrets, b"SLACK_TOKEN=xoxb-your-token-here\n");
    // Tests' fakes without a team's id of 8 digits (Alertmanager's).
    clean(BuiltinKind::Secrets, b"api_url: 'xoxb-1234-abcdefgh'\ntoken: \"xoxb-1234-xxxxxx\"\nxoxp-12-34-56-abcdef\n");
    assert_eq!(
        run(BuiltinKind::Secrets, b"xoxp-2048123456-4096123456-8192123456-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6\n").len(),
        1
    );
    assert_eq!(run(BuiltinKind::Secrets, b"xoxa-2-8472619350abcdef\n").len(), 1);
    clean(BuiltinKind::Secrets, b"sk_live_XXXXXXXXXXXXXXXXXXXXXXXXXXXX\n");
    clean(BuiltinKind::Secrets, b"aws_access_key_id = AKIA1234567890ABCDEF\n");
    clean(BuiltinKind::Secrets, b"key: AKIAZ0123456789QWER\n");
    // Not base32 (a 0, 1, 8 or 9: no AWS key id holds one); AWS's
    // documented examples with their word changed; Google's documented
    // key; TruffleHog's marker.
    clean(BuiltinKind::Secrets, b"id = ASIABBKK02W42Q3IPSPG\nid = AKIAWGXZ9OPDOWUJMZGI\n");
    assert_eq!(run(BuiltinKind::Secrets, b"id = AKIAWGXZ7OPDOWUJMZGI\n").len(), 1);
    clean(BuiltinKind::Secrets, b"id = AKIAIOSFODNN7EAXMPLE\n");
    clean(BuiltinKind::Secrets, b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYSAMPLEKEY\n");
    clean(BuiltinKind::Secrets, b"key = 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe'\n");
    clean(BuiltinKind::Secrets, b"id = AKIAWGXZ7OPDOWUJMZGI // trufflehog:ignore\n");
    // Wrong lengths or glued to other words.
    clean(BuiltinKind::Secrets, format!("ghp_{}\n", fake(35, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("ghp_{}\n", fake(37, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("xghp_{}\n", fake(36, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("AKIA{}\n", fake(17, UPPER)).as_bytes());
    clean(BuiltinKind::Secrets, format!("XAKIA{}\n", fake(16, UPPER)).as_bytes());
    clean(BuiltinKind::Secrets, format!("AKIA{}\n", fake(16, b"abcdef")).as_bytes());
    clean(BuiltinKind::Secrets, format!("AIza{}\n", fake(34, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("sk_live_{}\n", fake(23, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("sk_test_{}\n", fake(30, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("aws_secret_access_key = {}\n", fake(41, ALNUM)).as_bytes());
    clean(BuiltinKind::Secrets, format!("my_secret = {}\n", fake(40, ALNUM)).as_bytes());
    // A `,` after the name counts only after a quoted name that is a
    // call's first argument.
    clean(BuiltinKind::Secrets, b"names = [aws_secret_access_key, da39a3ee5e6b4b0d3255bfef95601890afd80709]\n");
    clean(BuiltinKind::Secrets, b"[\"aws_secret_access_key\", \"da39a3ee5e6b4b0d3255bfef95601890afd80709\"]\n");
    // After the name and blanks alone, the next line is something else;
    // after `=` or `:`, a line no deeper than the name's, one past a blank
    // line, or a run that does not end its line (a YAML key, prose).
    let sha = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    for text in [
        format!("export aws_secret_access_key \n{sha}\n"),
        format!("aws_secret_access_key:\n{sha}: pinned\n"),
        format!("  aws_secret_access_key:\n  {sha}\n"),
        format!("Commit that added the aws_secret:\n\n{sha}\n"),
        format!("AWS_SECRET_ACCESS_KEY=\n\n{sha}\n"),
        format!("const o = {{\n  awsSecretKey:\n  {sha};\n"),
        format!("* aws-secret:\n  {sha} fix rotation\n"),
    ] {
        clean(BuiltinKind::Secrets, text.as_bytes());
    }
    // A comment's leader counts only at the start of a line, and prose or
    // a path in a comment after a header is not a key.
    clean(BuiltinKind::Secrets, b"-----BEGIN PRIVATE KEY----- # ThisIsAnIdentifierLongerThanTwenty\n");
    clean(
        BuiltinKind::Secrets,
        b"# The file must start with -----BEGIN OPENSSH PRIVATE KEY-----\n# OpenSSHPrivateKeyParser reads the rest.\n",
    );
    clean(
        BuiltinKind::Secrets,
        b"/**\n * Reads -----BEGIN RSA PRIVATE KEY-----\n * /etc/ssl/private/server/keyfile.pem\n */\n",
    );
    clean(BuiltinKind::Secrets, b"* header: -----BEGIN RSA PRIVATE KEY-----\n* ConfigurationFileLocationVariable\n");
    clean(
        BuiltinKind::Secrets,
        b"# -----BEGIN RSA PRIVATE KEY-----\n# /usr/local/share/verdict/fixtures/privatekeys/rsa\n",
    );
    clean(
        BuiltinKind::Secrets,
        b"/* -----BEGIN RSA PRIVATE KEY-----\n * OpenSshPrivateKeyCertificateAuthorityParserImpl\n",
    );
    // A line of key-like characters with more prose after it.
    clean(
        BuiltinKind::Secrets,
        b"# -----BEGIN RSA PRIVATE KEY-----\n# MIIEowIBAAKCAQEAx4UbaDzY5xjW6hc7W0BCfzVZ2p0K+gIvGr6WOLYS/8Ev is how it starts\n",
    );
}

/// A PEM header in code or prose, followed by the next line of code, a
/// word or a string concatenation, is not a key; a key's first line, or an
/// encrypted block's armor header, is.
#[test]
fn secrets_pem_headers_without_key_material_are_not_keys() {
    clean(
        BuiltinKind::Secrets,
        b"PEM_HEADER = \"-----BEGIN RSA PRIVATE KEY-----\"\nPEM_FOOTER = \"-----END RSA PRIVATE KEY-----\"\n",
    );
    clean(BuiltinKind::Secrets, b"const header = \"-----BEGIN RSA PRIVATE KEY-----\"\nconst footer = \"x\"\n");
    clean(BuiltinKind::Secrets, b"pem = \"-----BEGIN PRIVATE KEY-----\\n\" + body + \"-----END PRIVATE KEY-----\"\n");
    clean(BuiltinKind::Secrets, b"It starts with -----BEGIN PRIVATE KEY----- and ends with the footer.\n");
    // A PEM built from a variable whose name is long enough to pass for
    // key material, in Java, Python and Rust.
    clean(
        BuiltinKind::Secrets,
        b"String pem = \"-----BEGIN PRIVATE KEY-----\\n\" + encodedPrivateKeyString + \"\\n-----END PRIVATE KEY-----\\n\";\n",
    );
    clean(BuiltinKind::Secrets, b"pem = \"-----BEGIN RSA PRIVATE KEY-----\\n\" + base64EncodedPrivateKeyData\n");
    clean(BuiltinKind::Secrets, b"let pem = \"-----BEGIN EC PRIVATE KEY-----\", KeyKindEllipticCurvePrivateKey;\n");
    clean(BuiltinKind::Secrets, b"HEADER = \"-----BEGIN PRIVATE KEY-----\"\nparsePrivateKeyFromHeaderLine(x)\n");
    // A closing quote, blanks, then a path or a name of base64 characters.
    clean(BuiltinKind::Secrets, b"grep -q -- '-----BEGIN RSA PRIVATE KEY-----' /etc/ssl/private/server.key\n");
    clean(BuiltinKind::Secrets, b"x = \"-----BEGIN PRIVATE KEY-----\"   someIdentifierLongerThanTwenty\n");
    // A list of a parser's constants: the next literal is a name, not a
    // key's first line; and a documented example key.
    clean(BuiltinKind::Secrets, b"MARKERS = ['-----BEGIN RSA PRIVATE KEY-----', 'EncryptedPrivateKeyInfoMarker',\n");
    clean(BuiltinKind::Secrets, b"-----BEGIN RSA PRIVATE KEY-----EXAMPLETCCAfICCQD6m7oRw0uXOjANBgkqhkiG9w0BAQUFADCB\n");
    // A pair's name that is not the secret's, or a value that is no
    // literal.
    let value = fake(40, ALNUM);
    for text in [
        format!("- name: AWS_SECRET_ACCESS_KEY\n  valueFrom:\n    secretKeyRef: {value}\n"),
        format!("filename: AWS_SECRET_ACCESS_KEY\nvalue: {value}\n"),
        format!("- name: AWS_SECRET_ACCESS_KEY\n\n\n  value: {value}\n"),
    ] {
        clean(BuiltinKind::Secrets, text.as_bytes());
    }
    clean(BuiltinKind::Secrets, b"x = \"-----BEGIN RSA PRIVATE KEY-----\\n\" SOMEMACRONAMEOVERTWENTYCHARS\n");
    clean(
        BuiltinKind::Secrets,
        b"header: \"-----BEGIN RSA PRIVATE KEY-----\"\nfooter: \"-----END RSA PRIVATE KEY-----\"\n",
    );
    let encrypted =
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\nx\n";
    assert!(one(BuiltinKind::Secrets, encrypted.as_bytes()).message.contains("RSA PRIVATE KEY"));
    let concatenated =
        "String key = \"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n    \"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\\n\" +\n";
    assert!(one(BuiltinKind::Secrets, concatenated.as_bytes()).message.contains("RSA PRIVATE KEY"));
    let implicit = "key = (\"-----BEGIN PRIVATE KEY-----\\n\"\n       \"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n\")\n";
    assert!(one(BuiltinKind::Secrets, implicit.as_bytes()).message.contains("PRIVATE KEY"));
    // The material's literal starting with a `\n` escape or blanks.
    for opened in [
        "String k = \"-----BEGIN RSA PRIVATE KEY-----\" +\n \"\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\" +\n",
        "k = (\"-----BEGIN RSA PRIVATE KEY-----\"\n \"\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\")\n",
        "[\"-----BEGIN RSA PRIVATE KEY-----\", \"  MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\"]\n",
    ] {
        assert!(one(BuiltinKind::Secrets, opened.as_bytes()).message.contains("RSA PRIVATE KEY"), "{opened}");
    }
    let listed = "[\"-----BEGIN PRIVATE KEY-----\",\n \"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\"]\n";
    assert!(one(BuiltinKind::Secrets, listed.as_bytes()).message.contains("PRIVATE KEY"));
    let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF\n";
    assert!(one(BuiltinKind::Secrets, pgp.as_bytes()).message.contains("PGP PRIVATE KEY BLOCK"));
    // Any label of a private key, not only the common ones.
    let dh = "-----BEGIN X9.42 DH PRIVATE KEY-----\nMIICJgIBADCCAZcGByqGSM4+AgEwggGK\n";
    assert!(one(BuiltinKind::Secrets, dh.as_bytes()).message.contains("`-----BEGIN X9.42 DH PRIVATE KEY-----`"));
    clean(BuiltinKind::Secrets, b"-----BEGIN DH PARAMETERS-----\nMIIBCAKCAQEA//////////+t+FRYortKmq/c\n");
    clean(BuiltinKind::Secrets, b"-----BEGIN PRIVATE KEYS AND MORE-----\nMIIBCAKCAQEA//////////+t+FRYortKmq/c\n");
}

/// The key files `detect-private-key` knows beyond PEM private keys (an
/// audit against pre-commit-hooks found them passed): PuTTY's, OpenVPN's
/// static key, and SSH2 keys in RFC 4716's framing. Each with its key
/// material; a header alone, or a mention, is none.
#[test]
fn secrets_putty_openvpn_and_ssh2_keys() {
    let putty = "PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: none\r\nComment: k\r\nPublic-Lines: 1\r\n\
                 AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7Vq9kX2mZpL0w\r\nPrivate-Lines: 1\r\n\
                 AAAAgH3x9Rk2bQ7LmPz8vT4nYc1WdE6sJ0aFuKoGh5Xi\r\nPrivate-MAC: 3f2a9c0d1e8b7a6f5e4d3c2b1a0f9e8d\r\n";
    let f = one(BuiltinKind::Secrets, putty.as_bytes());
    assert_eq!((f.message.as_str(), at(&f)), ("PuTTY private key (`PuTTY-User-Key-File-2`)", (1, 1)));
    let v3 = putty.replace("File-2", "File-3").replace("none", "aes256-cbc");
    assert!(one(BuiltinKind::Secrets, v3.as_bytes()).message.contains("File-3"));
    let vpn = "# 2048 bit OpenVPN static key\n-----BEGIN OpenVPN Static key V1-----\n\
               8f3b2a1c9d0e7f6a5b4c3d2e1f0a9b8c\n-----END OpenVPN Static key V1-----\n";
    let f = one(BuiltinKind::Secrets, vpn.as_bytes());
    assert_eq!((f.message.as_str(), at(&f)), ("private key (`-----BEGIN OpenVPN Static key V1-----` block)", (2, 1)));
    let ssh2 = "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"rsa-key-20241106, a long \\\n\
                comment\"\nP2/56wAAAi4AAAA3aWYtbW9kbntzaWdue3JzYS1wa2NzMS1zaGExfSxlbmNyeXB0e3JzYS1wa2Nz\n\
                ---- END SSH2 ENCRYPTED PRIVATE KEY ----\n";
    let f = one(BuiltinKind::Secrets, ssh2.as_bytes());
    assert_eq!(f.message, "private key (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` block)");
    // Old Mac line endings, and a byte order mark before a PuTTY file.
    assert!(one(BuiltinKind::Secrets, putty.replace("\r\n", "\r").as_bytes()).message.contains("PuTTY"));
    assert!(one(BuiltinKind::Secrets, format!("\u{feff}{putty}").as_bytes()).message.contains("PuTTY"));
    assert!(one(BuiltinKind::Secrets, ssh2.replace('\n', "\r").as_bytes()).message.contains("SSH2"));
    // Headers alone, mentions, public keys.
    clean(BuiltinKind::Secrets, b"x = \"PuTTY-User-Key-File-2: \"\n");
    clean(BuiltinKind::Secrets, b"PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPrivate-Lines: 1\n...\n");
    clean(BuiltinKind::Secrets, b"---- BEGIN SSH2 PUBLIC KEY ----\nAAAAB3NzaC1yc2EAAAADAQABAAAAgQC7Vq9kX2mZpL0w\n");
    clean(BuiltinKind::Secrets, b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: none\n---- END\n");
    clean(BuiltinKind::Secrets, b"const H: &str = \"-----BEGIN OpenVPN Static key V1-----\";\nfn f() {}\n");
}

/// Long runs of candidate prefixes (a line of `xoxb-` or `aws_secret`
/// repeated) are no secrets, and each candidate is followed for at most 256
/// bytes: a name or token longer than that is none. (Following each to the
/// end of its run made a megabyte of them take more than the 30 s timeout;
/// the check's speed is measured by the benchmarks, not here.)
#[test]
fn secrets_long_runs_of_candidates_are_no_secrets() {
    for unit in ["aws_secret", "xoxb-", "AKIA", "sk_live_", "ghp_", "---- BEGIN SSH2 ", "PuTTY-User-Key-File-"] {
        let content = unit.repeat(1024 * 1024 / unit.len());
        assert_eq!(run(BuiltinKind::Secrets, content.as_bytes()), [], "{unit}");
    }
    let value = fake(40, ALNUM);
    let named = |name: &str| format!("{name} = \"{value}\"\n");
    assert_eq!(one(BuiltinKind::Secrets, named(&format!("aws_secret_{}", "k".repeat(200))).as_bytes()).line, Some(1));
    clean(BuiltinKind::Secrets, named(&format!("aws_secret_{}", "k".repeat(300))).as_bytes());
    let stripe = format!("sk_live_{}", fake(300, ALNUM));
    clean(BuiltinKind::Secrets, stripe.as_bytes());
}

#[test]
fn secrets_several_in_one_file_in_order_and_capped() {
    let gh = format!("ghp_{}", fake(36, ALNUM));
    let akia = format!("AKIA{}", fake(16, UPPER));
    let content = format!("a = {akia}\nb = {gh}\nc = {akia}\n");
    let findings = run(BuiltinKind::Secrets, content.as_bytes());
    assert_eq!(positions(&findings), [(1, 5), (2, 5), (3, 5)]);
    let many = format!("{gh}\n").repeat(150);
    let findings = run(BuiltinKind::Secrets, many.as_bytes());
    assert_eq!(findings.len(), 101);
    assert_eq!(findings[99].line, Some(100));
    assert!(findings[100].message.starts_with("… and 50 more"), "{}", findings[100].message);
}

#[test]
fn secrets_ten_megabyte_line() {
    // Worst case for the prefilter: candidate prefixes everywhere.
    let noisy = "AKIA ghp_ _secret AIza -----BEGIN x ".repeat(TEN_MB / 36);
    quick(|| clean(BuiltinKind::Secrets, noisy.as_bytes()));
    let mut content = vec![b'a'; TEN_MB];
    content.extend_from_slice(format!(" ghp_{}", fake(36, ALNUM)).as_bytes());
    let f = quick(|| one(BuiltinKind::Secrets, &content));
    assert_eq!(at(&f), (1, TEN_MB as u32 + 2));
}

// ------------------------------------------------------ shebang-executable ----

#[test]
fn shebang_not_executable() {
    let f = one(BuiltinKind::ShebangExecutable, b"#!/bin/sh\necho hi\n");
    assert_eq!(at(&f), (1, 1));
    assert_eq!(f.message, "has a shebang but is not executable");
    assert_eq!(f.severity, Severity::Error);
    // A self-extracting script with a binary payload is still checked.
    assert_eq!(run(BuiltinKind::ShebangExecutable, b"#!/bin/sh\nexit 0\n\0\x01\x02").len(), 1);
}

#[test]
fn shebang_clean() {
    let exec = BuiltinInput {
        content: b"#!/usr/bin/env python3\n",
        size: 23,
        executable: true,
        binary: false,
        marks: FileMarks::NONE,
    };
    assert!(check(BuiltinKind::ShebangExecutable, &BuiltinSettings::default(), &exec).is_empty());
    clean(BuiltinKind::ShebangExecutable, b"");
    clean(BuiltinKind::ShebangExecutable, b"echo no shebang\n#!/bin/sh\n");
    clean(BuiltinKind::ShebangExecutable, b" #!/bin/sh\n");
    // Rust inner attributes are not shebangs.
    clean(BuiltinKind::ShebangExecutable, b"#![forbid(unsafe_code)]\n");
    clean(BuiltinKind::ShebangExecutable, b"#! [allow(dead_code)]\n");
    // The kernel does not see a shebang behind a byte order mark.
    clean(BuiltinKind::ShebangExecutable, format!("{BOM_STR}#!/bin/sh\n").as_bytes());
}

#[test]
fn a_shebang_a_build_fills_in_is_a_template() {
    // home-manager's `#!@bash@/bin/bash`, filled in by Nix and installed
    // with mode 755; autoconf's `#! @PERL@ -w`.
    for template in ["#!@bash@/bin/bash\n", "#! @perl@/bin/perl -w\n", "#!\t@PERL_PATH-5@ -w\n"] {
        clean(BuiltinKind::ShebangExecutable, template.as_bytes());
    }
    // Anything else beginning with `@` is an interpreter's path as any.
    for script in
        ["#!@/bin/sh\n", "#!@bash/bin/bash\n", "#!@@/bin/sh\n", "#!/usr/bin/env @x@\n", "#!@a/ b@\n", "#!\n@x@ hello\n"]
    {
        assert_eq!(run(BuiltinKind::ShebangExecutable, script.as_bytes()).len(), 1, "{script}");
    }
}

// ------------------------------------------------------------ all checks ----

#[test]
fn every_check_on_ten_megabyte_inputs_is_quick() {
    let line = vec![b'a'; TEN_MB];
    let lines = "let x = 1; // a typical line of code\n".repeat(TEN_MB / 37);
    // Blanks on every line of a transcript, and a generated file's every line.
    let transcript = "  $ a \n  b \nc \n".repeat(TEN_MB / 14);
    let generated = format!("// Code generated by x. DO NOT EDIT.\n{}", "a \r\n".repeat(TEN_MB / 4));
    let settings = BuiltinSettings { max_size: u64::MAX };
    for content in [&line[..], lines.as_bytes(), transcript.as_bytes(), generated.as_bytes()] {
        let input = BuiltinInput::new(content);
        for kind in BuiltinKind::ALL {
            let findings = quick(|| check(kind, &settings, &input));
            assert!(findings.len() <= MAX_FINDINGS + 1);
        }
    }
}

#[test]
fn every_check_passes_empty_except_json() {
    for kind in BuiltinKind::ALL {
        let findings = run(kind, b"");
        let json = matches!(kind, BuiltinKind::Json | BuiltinKind::Jsonc);
        assert_eq!(findings.is_empty(), !json, "{kind}: {findings:?}");
    }
}

#[test]
fn yaml_templates_are_not_checked_as_yaml() {
    // A Helm template: its `{{-` lines are no YAML until rendered.
    let helm = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"c.fullname\" . }}\n  labels:\n    {{- include \"c.labels\" . | nindent 4 }}\nspec:\n  {{- if not .Values.autoscaling.enabled }}\n  replicas: {{ .Values.replicaCount }}\n  {{- end }}\n";
    clean(BuiltinKind::Yaml, helm);
    // Without the dash the tag parses, and the error is on a later line.
    clean(BuiltinKind::Yaml, b"spec:\n  {{ if .Values.x }}\n  replicas: 3\n  {{ end }}\n");
    // Duplicate keys in the branches of a Jinja conditional.
    clean(BuiltinKind::Yaml, b"{% if prod %}\nreplicas: 3\n{% else %}\nreplicas: 1\n{% endif %}\n");
    clean(BuiltinKind::Yaml, b"a: 1\n{# a note #}\n");
    // What comes before the first tag is YAML, and checked.
    let f = one(BuiltinKind::Yaml, b"a: 1\na: 2\n{{- if .x }}\n");
    assert_eq!(at(&f), (2, 1), "{}", f.message);
    // Nor does one inside a block scalar: YAML holding template text in its
    // strings (Ansible, alerting rules) is checked in full.
    let rules = b"annotations:\n  description: |\n    {{ $labels.instance }} is down\n  summary: >\n    {{ $value }} left\nannotations: {}\n";
    let f = one(BuiltinKind::Yaml, rules);
    assert_eq!(at(&f), (6, 1), "{}", f.message);
    assert!(f.message.starts_with("duplicate key `annotations`"), "{}", f.message);
    let f = one(BuiltinKind::Yaml, b"- name: x\n  msg: {{ item }} done\n");
    assert_eq!(f.line, Some(2), "an unquoted tag inside a line is YAML's error: {}", f.message);
    // A tag must close on its line: `{{}` opens two flow mappings.
    assert_eq!(at(&one(BuiltinKind::Yaml, b"{{}  ")), (1, 6));
    // But a Go comment need not, and `{%` or `{#` never begin YAML.
    clean(BuiltinKind::Yaml, b"{{- /*\nGenerated.\n*/}}\na: [\n");
    clean(BuiltinKind::Yaml, b"{%- if x\n  %}\na: [\n");
    // A Go action reading a field, inside a line, marks a Helm template too:
    // `{{ .Values.x }}`, `$.Chart`, the dot of `include "name" .`.
    clean(BuiltinKind::Yaml, b"metadata:\n  name: {{ include \"x.fullname\" . }}\n  labels:\n    chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n");
    clean(BuiltinKind::Yaml, b"name: \"{{ include \"x\" . }}-test\"\n");
    clean(BuiltinKind::Yaml, b"a: {{ $.Values.a }}-b\n");
    clean(BuiltinKind::Yaml, b"a: x\nb: {{ (.Values.b) }} c\nb: 2\n");
    // A template line right after a block scalar is not in it (Helm's
    // ConfigMap of a file).
    clean(BuiltinKind::Yaml, b"data:\n  prometheus.yml: |\n{{ toYaml .Values.serverFiles.prometheus | indent 4 }}\n");
    clean(BuiltinKind::Yaml, b"a:\n  script: |\n    run\n  {{- if .Values.x }}\n  b: 1\n  {{- end }}\n");
    clean(BuiltinKind::Yaml, b"- script: |\n    echo\n  {{- if .Values.x }}\n  env: a\n  {{- end }}\n  env: b\n");
    // After a quote closed on a line that began inside it.
    clean(BuiltinKind::Yaml, b"x: [a, \"b\n  c\", {{ .Values.x }}]\nb: 1\nb: 2\n");
    // In a flow collection too.
    clean(BuiltinKind::Yaml, b"ports: [{{ .Values.port }}, 80]\nports: 1\n");
    clean(BuiltinKind::Yaml, b"env: {name: x, value: {{ .Values.v }}}\nenv: 1\n");
    // ERB and EEx (Rails' fixtures and database.yml are rendered first).
    clean(
        BuiltinKind::Yaml,
        b"david:\n  name: David\n<% (3..5).each do |digit| %>\ndev_<%= digit %>:\n  name: fixture\n<% end %>\n",
    );
    clean(
        BuiltinKind::Yaml,
        b"development:\n  <% if ENV['X'] %>\n  adapter: a\n  <% else %>\n  adapter: b\n  <% end %>\n",
    );
    // A value that is an ERB tag, with a `: ` inside (Active Storage's
    // fixtures, as Rails' guides write them), and a loop after a tagged
    // document start (`--- !omap`, whose tag ends the line before the
    // loop's first line).
    clean(BuiltinKind::Yaml, b"blob: <%= ActiveStorage::FixtureSet.blob filename: \"first.png\" %>\nx: 1\n");
    clean(BuiltinKind::Yaml, b"--- !omap\n<% 3.times do |i| %>\n- fixture_<%= i %>:\n    id: <%= i %>\n<% end %>\n");
    // Not a lone `<%` (a delimiter setting's value) nor `<%5`: YAML's.
    assert_eq!(at(&one(BuiltinKind::Yaml, b"open: <%\nclose: %>\n")), (2, 8));
    assert_eq!(at(&one(BuiltinKind::Yaml, b"t: <%5\nt: 1\n")).0, 2);
    let f = one(BuiltinKind::Yaml, b"a: 1\na: 2\nblob: <%= x y: z %>\n");
    assert_eq!(at(&f), (2, 1), "what comes before is checked: {}", f.message);
    // Nor one that begins with a build's substitution variable (a Bazel
    // `expand_template` input, autoconf's `*.yml.in`): YAML reserves `@`.
    clean(BuiltinKind::Yaml, b"name: @name@\nversion: @version@\nname: x\n");
    clean(BuiltinKind::Yaml, b"deps:\n  - @DEP_1@\n  - [@a-b@]\n");
    let f = one(BuiltinKind::Yaml, b"a: 1\na: 2\nb: @x@\n");
    assert_eq!(at(&f), (2, 1), "what comes before is checked: {}", f.message);
    // A quoted one is YAML's, and `@` not closed on a name is YAML's error.
    assert_eq!(at(&one(BuiltinKind::Yaml, b"a: '@x@'\na: 2\n")), (2, 1));
    for invalid in [&b"a: @x\n"[..], b"a: @ x@\n", b"a: @@\n"] {
        assert!(one(BuiltinKind::Yaml, invalid).message.contains("cannot begin with"), "{invalid:?}");
    }
    // A document's root block scalar may begin its lines at column 0: they
    // are its text, up to the next document marker.
    for (root, line) in [
        (&b"--- |\n% done\n...\n---\ndup: 1\ndup: 2\n"[..], 6),
        (b"|\n%= x\n---\ndup: 1\ndup: 2\n", 5),
        (b"--- !!str >-\n% a\n---\ndup: 1\ndup: 2\n", 5),
    ] {
        assert_eq!(at(&one(BuiltinKind::Yaml, root)).0, line, "{root:?}");
    }
    // A scalar after a key on the line before is not the root.
    clean(BuiltinKind::Yaml, b"key:\n  |\n  text\n% x\ndup: 1\ndup: 2\n");
    // Mojolicious' configuration files are Mojo::Template code first.
    clean(BuiltinKind::Yaml, b"%# Just a comment\nfoo: bar\n% if ($x) {\nfoo: baz\n% }\n");
    clean(BuiltinKind::Yaml, b"a:\n  %= $value\n");
    // YAML's own directives are checked as before.
    assert_eq!(at(&one(BuiltinKind::Yaml, b"%YAML 2.0\n---\na: 1\n")).0, 1);
    // A value that begins with a Jinja tag is no YAML value at all.
    clean(BuiltinKind::Yaml, b"on:\n  group: {% raw %}${{ github.head_ref }}{% endraw %}\n");
    clean(BuiltinKind::Yaml, b"services:\n  - {% if docker %}docker{% else %}pg{% endif %}\n");
    // Jinja's and Ansible's dotted names, alerting rules' `$labels` and
    // GitHub's `${{ github.sha }}` read no Go field: the file is YAML. So is
    // one whose Go actions are in comments, in quoted values (Helm's
    // values.yaml, GoReleaser) or inside a plain value: what follows them
    // is checked.
    for content in [
        &b"- debug:\n    msg: {{ item.name }} done\n"[..],
        b"- alert: Down\n  annotations:\n    summary: \"{{ $labels.instance }} down\"\n  annotations: {}\n",
        b"steps:\n  - run: echo ${{ github.sha }}\n    run: again\n",
        b"a: \"{{ x | join(',') }}\"\na: 2\n",
        b"# The tag defaults to {{ printf \"v%s\" .Chart.AppVersion }}\nservice:\n  port: 80\n  port: 81\n",
        b"image:\n  tag: 1  # or {{ .Chart.AppVersion }}\n  tag: 2\n",
        b"baz: '{{ .Chart.AppVersion }}'\na: 1\na: 2\n",
        b"url: http://example.{{ .Values.myDomain }}/healthz\na: 1\na: 2\n",
        b"name_template: \"{{ .ProjectName }}_{{ .Version }}\"\nname_template: \"{{ .Version }}\"\n",
        // A `: ` or `- ` inside quotes begins no value; nor does a quoted
        // or plain scalar's next line.
        b"- channel: '#alerts'\n  title: 'Firing: {{ .CommonLabels.alertname }}'\n   receiver: x\n",
        b"name_template: \"{{ .ProjectName }} - {{ .Version }}\"\ndraft: true\ndraft: false\n",
        b"- msg: \"Result: {% if x %}yes{% endif %}\"\n  when: a\n  when: b\n",
        b"- msg: \"Hello\n    {{ name }} there\"\n  when: a\n  when: b\n",
        b"- msg: Hello\n    {{ .Name }} there\n  when: a\n  when: b\n",
        b"a: \"b: {{ .X }}\"\nc: [1, 2\n",
        b"a: 'it''s: {{ .X }}'\na: 2\n",
        b"a: \"q\\\": {{ .X }}\"\na: 2\n",
        // An error on or next to a line holding a quoted Go action is
        // YAML's (the differential fuzz's cases).
        b"a: [b\nc: \"{{ .Version }}\"\n",
        b"archives:\n  - name_template: \"{{ .ProjectName }}\"_{{ .Version }}\n",
        b"a: [x, \"{{ .X }}\"] y\n",
        // An error inside or after a multi-line quoted or block scalar whose
        // next line begins with `{{`.
        b"d: \"one\n  {{ $labels.instance }} two\" x\n",
        b"d: 'one\n  {{ $labels.instance }} two' x\n",
        // The review's: escaped quotes inside an action; block and quoted
        // scalars after a tag, an anchor or `---`; a multi-line flow
        // collection; a quote on a plain scalar's next line.
        b"archives:\n  - name_template: \"{{ if eq .Arch \\\"amd64\\\" }}x{{ end }}\"\nb: 1\nb: 2\n",
        b"a: \"{{ index .Values \\\"key\\\" }}\"\nb: 1\nb: 2\n",
        b"a: '{{ include ''name'' . }}'\nb: 1\nb: 2\n",
        b"script: !!str |\n  {{ .Values.x }}\nb: 1\nb: 2\n",
        b"data:\n  tpl: &t |\n    {{- toYaml .Values.x | nindent 4 }}\n  a: 1\n  a: 2\n",
        b"--- |\n  {{ .Values.x }}\n---\nb: 1\nb: 2\n",
        b"key: !!str \"first line\n  {{ .Values.x }} second\"\nb: 1\nb: 2\n",
        b"list: [a,\n  b, \"multi\n  {{ .Values.x }} line\"]\nb: 1\nb: 2\n",
        b"args: [\n  --foo, '--set=a: {{ .Values.x }}',\n]\nb: 1\nb: 2\n",
        b"description: music of the\n  '90s and more\nmsg: 'it was a multi-line\n  {% raw %} text'\nb: 1\nb: 2\n",
        b"config: |\n      \n  {{ x }}\n",
        b"msg: \"one\n  {{ x }} two \\ud800\"\n",
        // Characters of several bytes before and inside the quotes.
        "- description: \"usability\u{ff1a} {{ $labels.instance }}\"\n  description: x\n".as_bytes(),
        "- d\u{e9}: '\u{e9}{{ .X }}\u{e9}' \u{e9}\n".as_bytes(),
    ] {
        assert_eq!(run(BuiltinKind::Yaml, content).len(), 1, "{:?}", String::from_utf8_lossy(content));
    }
}

#[test]
fn judge_says_why_a_file_is_not_judged_and_what_it_would_report() {
    let settings = BuiltinSettings::default();
    let judged = |kind, input: BuiltinInput<'_>| {
        let j = judge(kind, &settings, &input);
        assert_eq!(j.findings, check(kind, &settings, &input), "{kind}: judge and check disagree");
        j
    };
    let ws = BuiltinKind::TrailingWhitespace;
    let nl = BuiltinKind::FinalNewline;
    // Judged: nothing waived, findings as `check` gives them.
    let plain = judged(ws, BuiltinInput::new(b"a \n"));
    assert_eq!((plain.findings.len(), plain.waiver, plain.would_find.len()), (1, None, 0));
    assert_eq!(judged(ws, BuiltinInput::new(b"a\n")), Judged::default());
    // Waived by the project's settings: what it would report is the
    // finding the mark hides.
    let keeps = FileMarks { keeps_trailing_whitespace: true, ..FileMarks::NONE };
    let j = judged(ws, BuiltinInput { marks: keeps, ..BuiltinInput::new(b"a \n") });
    assert_eq!(j.waiver, Some(Waiver::Settings(ws)));
    assert_eq!(positions(&j.would_find), vec![(1, 2)]);
    assert!(j.waiver.unwrap().to_string().contains("trim_trailing_whitespace = false"), "{}", j.waiver.unwrap());
    let no_newline = FileMarks { no_final_newline: true, ..FileMarks::NONE };
    let j = judged(nl, BuiltinInput { marks: no_newline, ..BuiltinInput::new(b"a") });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::Settings(nl)), 1));
    assert!(j.waiver.unwrap().to_string().contains("insert_final_newline = false"));
    // A mark over a file with nothing to report waives it all the same.
    let j = judged(ws, BuiltinInput { marks: keeps, ..BuiltinInput::new(b"a\n") });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::Settings(ws)), 0));
    // Binary, by content or by a mark: nothing it would report.
    let j = judged(ws, BuiltinInput::new(b"a \0\n"));
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::BinaryContent), 0));
    let binary = FileMarks { binary: true, ..FileMarks::NONE };
    let j = judged(ws, BuiltinInput { marks: binary, binary: true, ..BuiltinInput::new(b"a \n") });
    assert_eq!(j.waiver, Some(Waiver::BinaryMark));
    let j = judged(BuiltinKind::Secrets, BuiltinInput::new(b"\0 AKIAQWERTYUIOPASDFGH"));
    assert_eq!(j.waiver, Some(Waiver::BinaryContent));
    // A test's one-line file.
    let in_tests = FileMarks { in_tests: true, ..FileMarks::NONE };
    let j = judged(nl, BuiltinInput { marks: in_tests, ..BuiltinInput::new(b"Hello world!") });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::OneLineTestFile), 1));
    // JSON a serializer wrote for a test: indented, ending at its bracket
    // (nimble's `json.pretty()`, zls's `std.json.Stringify`).
    for json in [&b"{\n  \"a\": [\n    1\n  ]\n}"[..], b"\xEF\xBB\xBF[\n  {}\n]", b"  {\n}"] {
        let j = judged(nl, BuiltinInput { marks: in_tests, ..BuiltinInput::new(json) });
        assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::SerializedTestJson), 1));
        assert_eq!(marked(nl, in_tests, json).len(), 0);
        // Elsewhere, a hand-written file's missing newline.
        assert_eq!(marked(nl, FileMarks::NONE, json).len(), 1);
    }
    // Not JSON, not at its bracket, or blank lines after it: judged.
    for content in [&b"{\n  a: 1\n}"[..], b"{\n  \"a\": 1\n} ", b"{\n  \"a\": 1\n}\n\n", b"[section]\nkey = [1]"] {
        assert_eq!(marked(nl, in_tests, content).len(), 1, "{}", String::from_utf8_lossy(content));
    }
    // Layout a tool or someone else owns: found, then dropped.
    let generated = FileMarks { generated: true, ..FileMarks::NONE };
    let j = judged(ws, BuiltinInput { marks: generated, ..BuiltinInput::new(b"a \n") });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::GeneratedMark), 1));
    let vendored = FileMarks { vendored: true, ..FileMarks::NONE };
    let j = judged(nl, BuiltinInput { marks: vendored, ..BuiltinInput::new(b"a") });
    assert_eq!(j.waiver, Some(Waiver::VendoredMark));
    let go = b"// Code generated by protoc-gen-go. DO NOT EDIT.\n\nx := 1 \n";
    let j = judged(ws, BuiltinInput::new(go));
    assert_eq!(j.waiver, Some(Waiver::WrittenByATool("the comment it begins with")));
    assert_eq!(positions(&j.would_find), vec![(3, 7)]);
    let mapped = b"var a = 1; \n//# sourceMappingURL=a.js.map\n";
    assert!(
        matches!(judged(ws, BuiltinInput::new(mapped)).waiver, Some(Waiver::WrittenByATool(w)) if w.contains("sourceMappingURL"))
    );
    let minified = format!("{} \n", "a;".repeat(400));
    let js = FileMarks { js_or_css: true, ..FileMarks::NONE };
    let j = judged(ws, BuiltinInput { marks: js, ..BuiltinInput::new(minified.as_bytes()) });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::Minified), 1));
    // A check that does not judge layout keeps its findings in such a file.
    let j = judged(BuiltinKind::Json, BuiltinInput { marks: generated, ..BuiltinInput::new(b"{,}") });
    assert_eq!((j.findings.len(), j.waiver), (1, None));
}

#[test]
fn a_key_block_is_allowed_by_a_marker_on_the_line_before_it() {
    let block =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n";
    // Terraform's test key in a Go raw string: the header's line has no
    // room for a marker, the line before it has.
    for (ending, before) in [("\n", "// verdict:allow: a test's key"), ("\r\n", "# gitleaks:allow")] {
        let text = format!("package x\n{before}\nconst testKey = `{block}`\n").replace('\n', ending);
        clean(BuiltinKind::Secrets, text.as_bytes());
    }
    // Two lines up is not the line before.
    let far = format!("// verdict:allow\n\nconst testKey = `{block}`\n");
    assert_eq!(one(BuiltinKind::Secrets, far.as_bytes()).line, Some(3));
    // A marker on a line that holds a secret of its own is that one's.
    let token = format!("ghp_{}", fake(36, ALNUM));
    let shared = format!("t = \"{token}\"  # verdict:allow\n{block}");
    assert_eq!(one(BuiltinKind::Secrets, shared.as_bytes()).line, Some(2));
    // A token's line must hold its marker itself, but detect-secrets'
    // next-line pragma allows the line after it, whatever it holds.
    let next = format!("# pragma: allowlist nextline secret\nt = \"{token}\"\n");
    clean(BuiltinKind::Secrets, next.as_bytes());
    let same = format!("t = \"{token}\"  # pragma: allowlist nextline secret\n");
    assert_eq!(one(BuiltinKind::Secrets, same.as_bytes()).line, Some(1));
    // Lines end at CR in a file without LF.
    let cr = format!("// verdict:allow\rconst testKey = `{block}`").replace('\n', "\r");
    clean(BuiltinKind::Secrets, cr.as_bytes());
}

#[test]
fn rust_inline_snapshots_keep_their_blanks() {
    let ws = BuiltinKind::TrailingWhitespace;
    // cargo's snapbox and rust-analyzer's expect-test: the raw string is
    // what the code printed; the code around it is judged.
    let snapbox =
        "fn t() {\n    p.cargo(\"x\").with_stderr_data(str![[r#\"\n[UPDATING] index \n  |  \n\"#]]).run(); \n}\n";
    assert_eq!(positions(&run(ws, snapbox.as_bytes())), vec![(5, 13)]);
    let expect = "check(\"a\", expect![[r##\"\n    a \"#  \n\"##]]);\n";
    clean(ws, expect.as_bytes());
    // insta: `@r"…"`, `@r#"…"#` and `@"…"` literals, in a file with a
    // snapshot assertion.
    let insta = "assert_snapshot!(out, @r\"\n  1 | x \n\");\nassert_snapshot!(y, @\"a \\\" \nb \n\");\nlet z = 1; \n";
    assert_eq!(positions(&run(ws, insta.as_bytes())), vec![(7, 11)]);
    // `@"` elsewhere (a C# verbatim string, Objective-C) is not insta's.
    let csharp = "var s = @\"\nline \n\";\n";
    assert_eq!(run(ws, csharp.as_bytes()).len(), 1);
    // An ordinary raw string (a fixture's source) is judged; so is the
    // rest of a file whose literal is never closed.
    let fixture = "let src = r#\"\nfn main() { \n}\n\"#;\n";
    assert_eq!(run(ws, fixture.as_bytes()).len(), 1);
    for unclosed in ["x(str![[r#\"\na \n", "x(str![[\"a \\\" \n"] {
        assert_eq!(run(ws, unclosed.as_bytes()).len(), 1, "{unclosed}");
    }
}

#[test]
fn cirrus_ci_s_matrix_keys_may_repeat() {
    // jemalloc's `.cirrus.yml`, as Cirrus documents its matrix
    // modification: `matrix` many times in a task, and a key many times
    // in a `matrix` mapping, each a variant of the task.
    let config = "task:\n  matrix:\n      env:\n        DEBUG: yes\n      env:\n        DEBUG: no\n  \
                  matrix:\n    - env:\n        PROF: yes\n    - env:\n        PROF: no\n  \
                  container:\n    matrix:\n      image: node:latest\n      image: node:8.3.0\n";
    let cirrus = FileMarks { cirrus_ci: true, ..FileMarks::NONE };
    assert!(marked(BuiltinKind::Yaml, cirrus, config.as_bytes()).is_empty());
    // Elsewhere they are duplicates, as any YAML's.
    assert_eq!(run(BuiltinKind::Yaml, config.as_bytes()).len(), 3);
    // In Cirrus' file too, other keys may not repeat: a task's, nor those
    // of a matrix's list items.
    for dup in [
        "task:\n  script: a\n  script: b\n",
        "task:\n  matrix:\n    - env:\n        A: 1\n        A: 2\n",
        "env:\n  matrix: 1\nmatrix_task:\n  x: 1\n  x: 2\n",
    ] {
        let found = marked(BuiltinKind::Yaml, cirrus, dup.as_bytes());
        assert_eq!(found.len(), 1, "{dup}: {found:?}");
        assert!(found[0].message.starts_with("duplicate key"), "{found:?}");
    }
    // Its top level gives tasks and their environments many times, in
    // order (OpenBLAS's): they are read one by one. Deeper, or other keys,
    // they are duplicates still.
    let top = "macos_instance:\n  image: a\ntask:\n  name: x\nmacos_instance:\n  image: b\ntask:\n  name: y\n\
               FreeBSD_task:\n  s: 1\nFreeBSD_task:\n  s: 2\ndocker_builder:\n  a: 1\ndocker_builder:\n  a: 2\n\
               container:\n  image: c\ncontainer:\n  image: d\nlint_pipe:\n  p: 1\nlint_pipe:\n  p: 2\n";
    assert!(marked(BuiltinKind::Yaml, cirrus, top.as_bytes()).is_empty());
    assert_eq!(run(BuiltinKind::Yaml, top.as_bytes()).len(), 6);
    for dup in [
        "task:\n  arm_container:\n    a: 1\n  arm_container:\n    a: 2\n",
        "env:\n  A: 1\nenv:\n  A: 2\n",
        "_task:\n  a: 1\n_task:\n  a: 2\n",
        "tasks:\n  a: 1\ntasks:\n  a: 2\n",
        "- task:\n    a: 1\n  task:\n    a: 2\n",
    ] {
        let found = marked(BuiltinKind::Yaml, cirrus, dup.as_bytes());
        assert_eq!(found.len(), 1, "{dup}: {found:?}");
        assert!(found[0].message.starts_with("duplicate key"), "{found:?}");
    }
    assert!(is_cirrus_name(b".cirrus.yml") && is_cirrus_name(b"deps/jemalloc/.cirrus.yaml"));
    assert!(!is_cirrus_name(b"cirrus.yml") && !is_cirrus_name(b".github/workflows/ci.yml"));
}

#[test]
fn a_declared_encoding_is_the_file_s_own() {
    let utf8 = BuiltinKind::Utf8;
    // pip's Latin-1 `setup.py` fixture, a Ruby script's magic comment, a
    // vim modeline: their bytes are text in the encoding they declare.
    for head in [
        &b"# -*- coding: latin-1 -*-\n"[..],
        b"#!/usr/bin/env python\n# coding=iso-8859-15\n",
        b"# encoding: Windows-1252\n",
        b"# vim: set fileencoding=latin1 :\n",
        // Maven's Latin-1 POM (mng-2254), and single quotes.
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n",
        b"<?xml version='1.0' encoding = 'windows-1252' standalone='yes'?>\n",
    ] {
        let text = [head, b"author = 'Jos\xe9'\n"].concat();
        clean(utf8, &text);
        let j = judge(utf8, &BuiltinSettings::default(), &BuiltinInput::new(&text));
        assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::DeclaredEncoding), 1), "{head:?}");
    }
    // UTF-8 declared, a declaration past the second line, or one outside a
    // comment, says nothing for the bytes.
    for text in [
        &b"# -*- coding: utf-8 -*-\nx = '\xe9'\n"[..],
        b"# one\n# two\n# coding: latin-1\nx = '\xe9'\n",
        b"coding = 'latin-1'\nx = '\xe9'\n",
        b"# coding:\nx = '\xe9'\n",
        // XML: UTF-8 declared, none, one not first, or not a declaration.
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>\xe9</a>\n",
        b"<?xml version=\"1.0\"?>\n<a encoding=\"latin1\">\xe9</a>\n",
        b"<a/>\n<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\xe9\n",
        b"<?xml-stylesheet encoding=\"latin1\"?>\n\xe9\n",
        b"<?xml version=\"1.0\" encoding=\"\"?>\n\xe9\n",
    ] {
        assert_eq!(run(utf8, text).len(), 1, "{text:?}");
    }
    // An empty file below a directory of tests passes as anywhere, not as
    // a test's one-line output.
    let in_tests = FileMarks { in_tests: true, ..FileMarks::NONE };
    let j = judge(
        BuiltinKind::FinalNewline,
        &BuiltinSettings::default(),
        &BuiltinInput { marks: in_tests, ..BuiltinInput::new(b"") },
    );
    assert_eq!(j, Judged::default());
}

#[test]
fn jest_and_vitest_inline_snapshots_keep_their_blanks() {
    let ws = BuiltinKind::TrailingWhitespace;
    // tailwindcss' source-map tests: what `vitest -u` wrote, compared
    // whole; the test's own code and inputs are judged.
    let test = "test('x', () => {\n  let input = css`\n    .a { } \n  `\n  expect(run(input)).toMatchInlineSnapshot(`\n    \"1 | .a \n    2 |  \"\n  `) \n  \
                expect(() => go()).toThrowErrorMatchingInlineSnapshot(\n    `\"bad \\` input \"\n   `,\n  )\n  \
                expect(obj).toMatchInlineSnapshot({ id: expect.any(Number) }, `\n    { \n  `)\n})\n";
    let found = positions(&run(ws, test.as_bytes()));
    assert_eq!(found, vec![(3, 11), (8, 5)], "{test}");
    // A file whose literal is never closed is judged past its opening.
    assert_eq!(run(ws, b"expect(x).toMatchInlineSnapshot(`\na \n").len(), 1);
}

#[test]
fn a_licence_file_a_build_writes_keeps_its_layout() {
    // vite's `LICENSE.md`: its own licence, then each bundled dependency's,
    // quoted line by line, an empty line of one as `> `.
    let own = "MIT License\n\nCopyright (c) x\n\n".repeat(200);
    let bundled = "# Licenses of bundled dependencies\nThe published Vite artifact additionally contains code with the \
                   following licenses:\nMIT\n\n# Bundled dependencies:\n## a\nLicense: MIT\n\n> Copyright\n> \n> text\n";
    let text = format!("{own}{bundled}");
    clean(BuiltinKind::MarkdownTrailingWhitespace, text.as_bytes());
    clean(BuiltinKind::TrailingWhitespace, text.as_bytes());
    // One heading alone is someone's document.
    let alone = format!("{own}# Bundled dependencies:\n> \n");
    assert_eq!(run(BuiltinKind::TrailingWhitespace, alone.as_bytes()).len(), 1);
}

#[test]
fn a_json_file_declaring_the_tsconfig_schema_is_read_as_tsc_reads_it() {
    // astro's `tsconfigs/base.json`, shared through `extends`.
    let base = b"{\n  \"$schema\": \"https://json.schemastore.org/tsconfig\",\n  // Enable top-level await\n  \"compilerOptions\": { \"target\": \"ESNext\", },\n}\n";
    clean(BuiltinKind::Json, base);
    // Still JSON with comments: a real mistake is one.
    let broken = b"{\n  \"$schema\": \"https://json.schemastore.org/tsconfig.json\",\n  \"a\": \n}\n";
    assert_eq!(run(BuiltinKind::Json, broken).len(), 1);
    // Another schema, or the word elsewhere, is plain JSON's.
    let other = b"{\n  \"$schema\": \"https://json.schemastore.org/package\",\n  // no\n  \"a\": 1\n}\n";
    assert_eq!(run(BuiltinKind::Json, other).len(), 1);
    let mention = b"{\"$schema\": \"x\", \"see\": \"json.schemastore.org/tsconfig\" // no\n}";
    assert_eq!(run(BuiltinKind::Json, mention).len(), 1);
}

#[test]
fn a_large_file_the_project_marks_vendored_or_generated_is_committed_on_purpose() {
    let settings = BuiltinSettings { max_size: 10 };
    let big = [b'x'; 20];
    let judged = |marks| judge(BuiltinKind::LargeFile, &settings, &BuiltinInput { marks, ..BuiltinInput::new(&big) });
    assert_eq!(judged(FileMarks::NONE).findings.len(), 1);
    for (marks, waiver) in [
        (FileMarks { vendored: true, ..FileMarks::NONE }, Waiver::CommittedOnPurpose { vendored: true }),
        (FileMarks { generated: true, ..FileMarks::NONE }, Waiver::CommittedOnPurpose { vendored: false }),
        (
            FileMarks { generated: true, vendored: true, ..FileMarks::NONE },
            Waiver::CommittedOnPurpose { vendored: true },
        ),
    ] {
        let j = judged(marks);
        assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(waiver), 1));
        assert!(
            check(BuiltinKind::LargeFile, &settings, &BuiltinInput { marks, ..BuiltinInput::new(&big) }).is_empty()
        );
    }
}

#[test]
fn a_large_file_git_lfs_keeps_passes_and_the_other_checks_still_read_it() {
    let settings = BuiltinSettings { max_size: 10 };
    let big = b"x \n".repeat(10);
    let lfs = FileMarks { lfs: true, ..FileMarks::NONE };
    let input = BuiltinInput { marks: lfs, ..BuiltinInput::new(&big) };
    let j = judge(BuiltinKind::LargeFile, &settings, &input);
    assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::LargeFileStorage), 1));
    assert!(j.waiver.unwrap().to_string().contains("`filter=lfs`"));
    // A text file Git LFS keeps is still text.
    assert_eq!(check(BuiltinKind::TrailingWhitespace, &settings, &input).len(), 10);
    assert_ne!(lfs.bits(), FileMarks::NONE.bits(), "a mark of the file's key");
    assert_ne!(lfs.bits(), FileMarks { conflict_marker_size: Some(255), ..FileMarks::NONE }.bits());
}

/// A large file that says a tool writes it (generated tables, a bundle) is
/// as large as the tool made it; the same size unsigned is reported, and
/// a small one is judged as any.
#[test]
fn a_large_file_a_tool_writes_is_committed_at_its_size() {
    let settings = BuiltinSettings { max_size: 64 };
    let tables = format!(
        "/* This file is automatically generated.  DO NOT EDIT!\n   Instead, edit gen-unicode-tables.pl and re-run.  */\n{}",
        "0x0041,\n".repeat(20)
    );
    let j = judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(tables.as_bytes()));
    assert_eq!((j.findings.len(), j.would_find.len()), (0, 1));
    assert_eq!(j.waiver, Some(Waiver::SizedByATool("the comment it begins with")));
    assert!(j.waiver.unwrap().to_string().contains("as large as its input makes it"));
    let unsigned = format!("/* Character tables. */\n{}", "0x0041,\n".repeat(20));
    assert_eq!(judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(unsigned.as_bytes())).findings.len(), 1);
    // Read empty (the file could be stat'ed, not read): judged by its size.
    let denied = BuiltinInput { size: tables.len() as u64, ..BuiltinInput::new(b"") };
    assert_eq!(judge(BuiltinKind::LargeFile, &settings, &denied).findings.len(), 1);
}

/// Unicode's `UnicodeData.txt`, which has no header, by its first record;
/// a file of other records is judged by its size.
#[test]
fn the_unicode_character_database_is_committed_at_its_size() {
    let settings = BuiltinSettings { max_size: 64 };
    let data = "0000;<control>;Cc;0;BN;;;;;N;NULL;;;;\n0001;<control>;Cc;0;BN;;;;;N;START OF HEADING;;;;\n";
    let j = judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(data.as_bytes()));
    assert_eq!((j.findings.len(), j.would_find.len()), (0, 1));
    let other = data.replacen("0000;", "0020;", 1);
    assert_eq!(judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(other.as_bytes())).findings.len(), 1);
}

/// A PHP archive (Composer's `composer.phar`, a tool phive keeps as
/// `tools/php-cs-fixer`) is written whole by Box: its stub ends at
/// `__HALT_COMPILER();`, then the binary manifest. The compiler's own
/// source, which writes that stub in a string, is judged by its size.
#[test]
fn a_large_php_archive_is_committed_at_its_size() {
    let settings = BuiltinSettings { max_size: 64 };
    let stub = "<?php\n/*\n * This file is part of Composer.\n */\nPhar::mapPhar('composer.phar');\nrequire 'phar://composer.phar/bin/composer';\n\n__HALT_COMPILER(); ?>";
    let archive = |interpreter: &str, stub: &str, end: &[u8]| {
        let mut bytes = format!("{interpreter}{stub}").into_bytes();
        bytes.extend_from_slice(end);
        bytes.extend_from_slice(&[0xEC, 0xC8, 0x00, 0x00, 0x9F, 0x02, 0x00]);
        bytes.extend_from_slice(&[b'x'; 64]);
        bytes
    };
    let waived = |bytes: &[u8]| judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(bytes)).waiver;
    let phar = Some(Waiver::SizedByATool("a PHP archive's stub (`__HALT_COMPILER();`, then its manifest)"));
    for (interpreter, end) in [("#!/usr/bin/env php\n", &b"\r\n"[..]), ("", b"\n")] {
        assert_eq!(waived(&archive(interpreter, stub, end)), phar, "{interpreter:?}");
    }
    // Without ` ?>` (Box's stub) too.
    assert_eq!(waived(&archive("", stub.trim_end_matches(" ?>"), b"\n")), phar);
    for bytes in [
        // Another interpreter, or no PHP before the stub.
        archive("#!/bin/sh\n", stub, b"\r\n"),
        archive("", &stub.replace("<?php", "<?xml"), b"\n"),
        // The call followed by text: a compiler's heredoc, or a manifest
        // longer than 16 MiB is no manifest.
        format!("{stub}\nEOF;\n{}", "x".repeat(64)).into_bytes(),
        {
            let mut b = archive("", stub, b"\n");
            let at = b.len() - 64 - 7 + 3;
            b[at] = 1;
            b
        },
    ] {
        assert_eq!(judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(&bytes)).findings.len(), 1);
    }
}

#[test]
fn a_large_asset_godot_imported_passes_and_the_other_checks_still_read_it() {
    let settings = BuiltinSettings { max_size: 10 };
    let big = b"x \n".repeat(10);
    let asset = FileMarks { imported_asset: true, ..FileMarks::NONE };
    let input = BuiltinInput { marks: asset, ..BuiltinInput::new(&big) };
    let j = judge(BuiltinKind::LargeFile, &settings, &input);
    assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::ImportedAsset), 1));
    assert!(j.waiver.unwrap().to_string().contains("`NAME.import`"));
    assert_eq!(check(BuiltinKind::TrailingWhitespace, &settings, &input).len(), 10);
    let other_bits = [FileMarks::NONE, FileMarks { lfs: true, ..FileMarks::NONE }].map(FileMarks::bits);
    assert!(!other_bits.contains(&asset.bits()), "a mark of the file's key");
    assert!(asset.describe().iter().any(|d| d.contains("Godot")));
}

#[test]
fn a_tests_pair_of_files_keeps_its_layout_encoding_and_mode_but_not_its_conflicts() {
    let settings = BuiltinSettings { max_size: 10 };
    let bytes = b"#!/bin/sh\nline  \r\n\xff\n<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\nend".to_vec();
    for pair in [TestPair::Input, TestPair::ExpectedOutput] {
        let marks = FileMarks { test_pair: Some(pair), ..FileMarks::NONE };
        let input = BuiltinInput { marks, ..BuiltinInput::new(&bytes) };
        let plain = BuiltinInput::new(&bytes);
        for kind in [
            BuiltinKind::TrailingWhitespace,
            BuiltinKind::FinalNewline,
            BuiltinKind::MixedLineEndings,
            BuiltinKind::Utf8,
            BuiltinKind::ShebangExecutable,
        ] {
            assert!(!check(kind, &settings, &plain).is_empty(), "{kind:?} finds something unmarked");
            assert!(check(kind, &settings, &input).is_empty(), "{kind:?} spares the pair");
            let j = judge(kind, &settings, &input);
            assert_eq!(j.waiver, Some(Waiver::TestPair(pair)), "{kind:?}");
            assert!(!j.would_find.is_empty(), "{kind:?}: explain says what it would report");
        }
        for kind in [BuiltinKind::MergeConflict, BuiltinKind::LargeFile] {
            assert!(!check(kind, &settings, &input).is_empty(), "{kind:?} judges the pair as any file");
        }
        assert!(Waiver::TestPair(pair).to_string().contains("a test's"));
        assert!(marks.describe().iter().any(|d| d.contains("a test's")));
    }
    // Binary content is skipped as binary, whatever the mark.
    let marks = FileMarks { test_pair: Some(TestPair::ExpectedOutput), ..FileMarks::NONE };
    let binary = BuiltinInput { marks, binary: true, ..BuiltinInput::new(b"\x7fELF\0\0  \n") };
    assert_eq!(judge(BuiltinKind::TrailingWhitespace, &settings, &binary).waiver, Some(Waiver::BinaryContent));
    let bits: Vec<u64> = [None, Some(TestPair::Input), Some(TestPair::ExpectedOutput)]
        .map(|test_pair| FileMarks { test_pair, ..FileMarks::NONE }.bits())
        .to_vec();
    assert_eq!(bits.iter().collect::<std::collections::HashSet<_>>().len(), 3, "marks of the file's key");
}

#[test]
fn a_file_a_package_manager_vendored_keeps_its_layout_size_and_mode_but_not_its_keys() {
    let settings = BuiltinSettings { max_size: 10 };
    let judged = |kind, content: &[u8], marks| {
        judge(kind, &settings, &BuiltinInput { marks, executable: false, ..BuiltinInput::new(content) })
    };
    for (by, says) in [(PackageVendor::Go, "`go mod vendor`"), (PackageVendor::Composer, "Composer's `vendor`")] {
        let marks = FileMarks { package_vendor: Some(by), ..FileMarks::NONE };
        for (kind, content) in [
            (BuiltinKind::TrailingWhitespace, &b"x \n"[..]),
            (BuiltinKind::FinalNewline, b"x"),
            (BuiltinKind::MixedLineEndings, b"a\r\nb\n"),
            (BuiltinKind::LargeFile, &[b'x'; 20]),
            (BuiltinKind::ShebangExecutable, b"#!/bin/sh\necho\n"),
        ] {
            assert_eq!(judged(kind, content, FileMarks::NONE).findings.len(), 1, "{kind}: unmarked");
            let j = judged(kind, content, marks);
            assert_eq!(
                (j.findings.len(), j.waiver, j.would_find.len()),
                (0, Some(Waiver::PackageVendor(by)), 1),
                "{kind}"
            );
            assert!(check(kind, &settings, &BuiltinInput { marks, ..BuiltinInput::new(content) }).is_empty());
        }
        assert!(Waiver::PackageVendor(by).to_string().contains(says), "{by:?}");
        // A key is a key, and a YAML error an error, wherever they are.
        let key =
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(judged(BuiltinKind::Secrets, key, marks).findings.len(), 1);
        assert_eq!(judged(BuiltinKind::Yaml, b"a: [\n", marks).findings.len(), 1);
        // A mark of its own in keys and in words.
        assert_ne!(marks.bits(), FileMarks { vendored: true, ..FileMarks::NONE }.bits());
        assert_ne!(marks.bits(), FileMarks::NONE.bits());
    }
    let [go, composer] = [PackageVendor::Go, PackageVendor::Composer]
        .map(|by| FileMarks { package_vendor: Some(by), ..FileMarks::NONE });
    assert_ne!(go.bits(), composer.bits());
    assert!(go.describe().iter().any(|d| d.contains("`modules.txt`")));
    assert!(composer.describe().iter().any(|d| d.contains("`composer.json`")));
}

/// A PEM block cut short by an ellipsis line before its end is an excerpt
/// of a key (caddy's `admin_test.go`: one line of material, `...`, the
/// footer), in a file, a Go raw string or a concatenation; a key with
/// dots elsewhere (after its end, in prose) is still a key.
#[test]
fn secrets_a_pem_block_cut_short_by_an_ellipsis_is_an_excerpt() {
    let line = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDRS0LmTwUT0iwP";
    for text in [
        format!("keyPEM := []byte(`-----BEGIN PRIVATE KEY-----\n{line}\n...\n-----END PRIVATE KEY-----`)\n"),
        format!("-----BEGIN RSA PRIVATE KEY-----\n{line}\n   …\n-----END RSA PRIVATE KEY-----\n"),
        format!(
            "key = \"-----BEGIN PRIVATE KEY-----\\n\" +\n  \"{line}\\n\" +\n  \"...\\n\" +\n  \"-----END PRIVATE KEY-----\"\n"
        ),
        format!("# -----BEGIN OPENSSH PRIVATE KEY-----\n# {line}\n# ...\n"),
    ] {
        clean(BuiltinKind::Secrets, text.as_bytes());
    }
    for text in [
        format!("-----BEGIN PRIVATE KEY-----\n{line}\n{line}\n-----END PRIVATE KEY-----\n...\n"),
        format!("-----BEGIN PRIVATE KEY-----\n{line}\nthe rest... is here\n-----END PRIVATE KEY-----\n"),
    ] {
        assert!(one(BuiltinKind::Secrets, text.as_bytes()).message.contains("PRIVATE KEY"), "{text}");
    }
}

/// A region a Markdown page keeps from Prettier (Exercism's OCR digits,
/// drawn in cells three columns wide) keeps its blanks; outside it, or
/// after its end, they are judged.
#[test]
fn markdown_regions_kept_from_prettier_keep_their_blanks() {
    let md = BuiltinKind::MarkdownTrailingWhitespace;
    let page = "# OCR\n\n<!-- prettier-ignore-start -->\n\n```text\n    _  _ \n  | _| _|\n  ||_  _|\n```\n\n<!-- prettier-ignore-end -->\n\nafter \n";
    assert_eq!(positions(&run(md, page.as_bytes())), [(13, 6)]);
    let unclosed = "<!-- prettier-ignore-start -->\n |_ \n";
    clean(md, unclosed.as_bytes());
    assert_eq!(run(md, b"before \n<!-- prettier-ignore-start -->\n").len(), 1);
}

/// In a Markdown file's shell session (a fenced block marked `console`,
/// `trycmd`, …), what a command printed keeps its blanks, as trycmd
/// compares it byte for byte (clap's examples: help with padded columns);
/// the commands, other blocks and the prose around are judged.
#[test]
fn markdown_shell_sessions_keep_their_output_s_blanks() {
    let md = BuiltinKind::MarkdownTrailingWhitespace;
    let session = "Help:\n```console\n$ app --help\nUsage: app [OPTIONS]\n\nOptions:\n  -f             \n  -h, --help     Print help\n\n```\n";
    clean(md, session.as_bytes());
    for info in ["trycmd", "Console", "shell-session title=\"x\"", "sh-session"] {
        clean(md, format!("~~~~{info}\n$ a\nout   \n~~~~\n").as_bytes());
    }
    // A command's own blanks, a continuation's, a line after the block,
    // another language's block, a fence that does not close the block (too
    // short), and an info string with a backtick.
    let content = "```console\n$ app \n> more \nout  \n```\nafter \n```sh\nx \n```\n````console\n$ a\n```\nout \n````\n``` console`\n$ a\nout \n```\n";
    let lines: Vec<u32> = run(md, content.as_bytes()).iter().map(|f| f.line.unwrap()).collect();
    assert_eq!(lines, [2, 3, 6, 8, 17]);
    // A block whose first line is a command is a session, whatever its
    // info string (hledger's `cli` blocks, an untagged README's); one whose
    // first line is not is judged, commands after it too.
    for info in ["cli", "", "sh", "text"] {
        clean(md, format!("```{info}\n\n$ hledger bal\n          $1  assets \n--------------------\n```\n").as_bytes());
    }
    let code = "```sh\nexport A=1 \n$ run\nout \n```\n";
    assert_eq!(run(md, code.as_bytes()).iter().map(|f| f.line.unwrap()).collect::<Vec<u32>>(), [2, 4]);
}

/// ESLint's `RuleTester` cases: a fix's `output` must be what the rule
/// writes, byte for byte (eslint's `no-useless-return` leaves a removed
/// statement's indent), so the blanks in a test file's template literals
/// are the case's; the code's around them, and literals in a file with no
/// `RuleTester`, are judged.
#[test]
fn rule_tester_cases_keep_their_template_literals_blanks() {
    let ws = BuiltinKind::TrailingWhitespace;
    let cases = "const { RuleTester } = require(\"../../../lib/rule-tester\");\n\
                 // a `comment` with a backtick \n\
                 ruleTester.run(\"x\", rule, {\n\
                 \tinvalid: [{\n\
                 \t\tcode: `\n  if (a) {\n    return;\n  }\n`,\n\
                 \t\toutput: `\n  if (a) {\n    \n  }\n`, \n\
                 \t\tname: 'it\\'s `odd`',\n\
                 \t\tother: `${a ? `in ${b}  \n` : \"}\"}  \n  `,\n\
                 \t}],\n});\n";
    let lines: Vec<u32> = run(ws, cases.as_bytes()).iter().map(|f| f.line.unwrap()).collect();
    // The comment's line, and the line after the output literal's close.
    assert_eq!(lines, [2, 14]);
    let plain = "const code = `\n  x  \n`;\n";
    assert_eq!(run(ws, plain.as_bytes()).len(), 1);
    // A literal never closed runs to the end.
    clean(ws, b"new RuleTester();\nconst a = `\n  x  \n");
}

/// An empty JSON file below a directory of tests is a test's input for an
/// empty file; elsewhere it is an error. A file beginning with a
/// terminal's escape sequence is captured output, whatever its name says.
#[test]
fn empty_test_json_and_captured_terminal_output_are_not_data() {
    let tests = FileMarks { in_tests: true, ..FileMarks::NONE };
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc] {
        let j = judge(kind, &BuiltinSettings::default(), &BuiltinInput { marks: tests, ..BuiltinInput::new(b"") });
        assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::EmptyTestFile), 1), "{kind}");
        assert_eq!(run(kind, b"").len(), 1, "{kind}: outside tests");
        let input = BuiltinInput { marks: tests, ..BuiltinInput::new(b" ") };
        assert_eq!(check(kind, &BuiltinSettings::default(), &input).len(), 1, "{kind}: a blank is no empty file");
    }
    let captured = b"\x1b[38;2;249;38;114mkey\x1b[0m: [\n";
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc, BuiltinKind::Toml, BuiltinKind::Yaml] {
        let j = judge(kind, &BuiltinSettings::default(), &BuiltinInput::new(captured));
        assert_eq!((j.findings.len(), j.waiver), (0, Some(Waiver::TerminalOutput)), "{kind}");
        // An escape later on is the format's error.
        assert!(!run(kind, b"a: [\n\x1b[0m\n").is_empty(), "{kind}");
    }
}

/// The Kotlin binary-compatibility validator's API dumps end each class
/// with a blank line (okhttp's `api/*.api` end `}\n\n`); `apiDump` writes
/// them whole again. Source declaring a class, or a dump-like line that is
/// not first, is judged.
#[test]
fn kotlin_api_dumps_keep_the_tool_s_layout() {
    let dump = "public abstract interface class okhttp3/sse/EventSource {\n\tpublic abstract fun cancel ()V\n}\n\n\
                public final class okhttp3/sse/EventSources$Companion : java/lang/Object {\n}\n\n";
    clean(BuiltinKind::FinalNewline, dump.as_bytes());
    clean(BuiltinKind::FinalNewline, b"protected final class a/B {\n}\n\n");
    for content in [
        &b"public final class Foo {\n}\n\n"[..],
        b"public class com.example.Foo {\n}\n\n",
        b"// dump\npublic final class a/B {\n}\n\n",
        b"public final class a/B<T> {\n}\n\n",
        b"public static void main(String[] a/b) {\n}\n\n",
    ] {
        assert_eq!(run(BuiltinKind::FinalNewline, content).len(), 1, "{}", String::from_utf8_lossy(content));
    }
}

/// Files tools write whole, known by their contents: erlang.mk, a CSL
/// style the Style Variant Builder generated, a Visual Studio project in
/// MSBuild's 2003 format; a hand-written MSBuild file or Makefile is judged.
#[test]
fn erlang_mk_generated_styles_and_visual_studio_projects_keep_the_tools_layout() {
    let erlang_mk = "# Copyright (c) 2013-2016, Loïc Hoguin\n\n.PHONY: all\n\nERLANG_MK_FILENAME := $(realpath $(lastword $(MAKEFILE_LIST)))\nexport ERLANG_MK_FILENAME\n\nERLANG_MK_VERSION = efb0d04\nERLANG_MK_WITHOUT = \n";
    clean(BuiltinKind::TrailingWhitespace, erlang_mk.as_bytes());
    let csl = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<style xmlns=\"http://purl.org/net/xbiblio/csl\">\n  <!-- This file was generated by the Style Variant Builder <https://github.com/citation-style-language/style-variant-builder>. -->\n</style>";
    clean(BuiltinKind::FinalNewline, csl.as_bytes());
    let project = "\u{feff}<Project DefaultTargets=\"Build\" xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\" ToolsVersion=\"3.5\">\n  <PropertyGroup>\n    <ProjectGuid>{18041F69-4814-447B-B170-984E72423D4A}</ProjectGuid>\n  </PropertyGroup>\n  <!-- To modify your build process, add your task inside one of the targets below and uncomment it. \n  -->\n</Project>";
    clean(BuiltinKind::FinalNewline, project.as_bytes());
    clean(BuiltinKind::TrailingWhitespace, project.as_bytes());
    let declared = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}", project.trim_start_matches('\u{feff}'));
    clean(BuiltinKind::FinalNewline, declared.as_bytes());
    // jsii-docgen's API reference, after projen's README part at most; the
    // anchor on a heading below the first level, or in prose, is judged.
    for page in [
        "# cdk8s-plus-27 (Python) <a name=\"API Reference\"></a>\n\n## Constructs\n\n---\n\n\n",
        "# Sample\n\nA construct.\n\n# API Reference <a name=\"API Reference\" id=\"api-reference\"></a>\n\n---\n\n\n",
    ] {
        clean(BuiltinKind::FinalNewline, page.as_bytes());
    }
    for page in
        ["## API <a name=\"API Reference\"></a>\n\n---\n\n\n", "See <a name=\"API Reference\"></a> below.\n\n\n"]
    {
        assert_eq!(run(BuiltinKind::FinalNewline, page.as_bytes()).len(), 1, "{page}");
    }
    // An Info manual makeinfo wrote; one that says so in other words is
    // judged.
    clean(
        BuiltinKind::TrailingWhitespace,
        b"This is hledger.info, produced by makeinfo version 7.3 from stdin.\n\nFile: x \n",
    );
    assert_eq!(run(BuiltinKind::TrailingWhitespace, b"This is notes.info, produced by hand.\nx \n").len(), 1);
    // A shared project's items; a compiler's XML documentation.
    let items = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Project xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\n  <PropertyGroup>\n    <HasSharedItems>true</HasSharedItems>\n    <SharedGUID>85208f8d</SharedGUID>\n  </PropertyGroup>\n</Project>";
    clean(BuiltinKind::FinalNewline, items.as_bytes());
    let xml_doc = "<?xml version=\"1.0\"?>\n<doc>\n    <assembly>\n        <name>0Harmony</name>\n    </assembly>\n    <members>\n        <member name=\"T:X\">\n            <summary>A factory \n            </summary>\n";
    clean(BuiltinKind::TrailingWhitespace, xml_doc.as_bytes());
    for content in [
        // A `<doc>` of another kind; shared items without the flag.
        "<?xml version=\"1.0\"?>\n<doc>\n  <title>Notes</title> \n</doc>\n",
        "<Project xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\n  <PropertyGroup>\n    <SharedGUID>1</SharedGUID> \n  </PropertyGroup>\n</Project>\n",
    ] {
        assert_eq!(run(BuiltinKind::TrailingWhitespace, content.as_bytes()).len(), 1, "{content}");
    }
    for content in [
        // No ProjectGuid: a hand-written build file.
        "<Project ToolsVersion=\"4.0\" xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\n  <Import Project=\"a.targets\" />\n</Project>",
        // SDK-style.
        "<Project Sdk=\"Microsoft.NET.Sdk\">\n  <PropertyGroup>\n    <ProjectGuid>{1}</ProjectGuid>\n  </PropertyGroup>\n</Project>",
        // The words elsewhere than at the top.
        "all:\n\techo ERLANG_MK_VERSION = 1\n\techo done",
        "<style>\n  <info>This file was generated by hand</info>\n</style>",
    ] {
        assert_eq!(run(BuiltinKind::FinalNewline, content.as_bytes()).len(), 1, "{content}");
    }
}

/// A generator's comment right after the package declaration counts as one
/// before it (Odin's generated tables, a Java class); one past code, or a
/// generator's source whose words are in a string, does not.
#[test]
fn a_generated_comment_after_the_package_declaration_counts() {
    let ws = BuiltinKind::TrailingWhitespace;
    for content in [
        "// rexcode, original author\n\npackage rexcode_ppc_generated\n\n// GENERATED by ../gen.odin -- DO NOT EDIT.\n// Reverse decode tables.\n\nx := 1 \n",
        "package unicode\n\n/*\n\t------ GENERATED ------ DO NOT EDIT ------\n*/\n\nx := 1 \n",
        "/*\n * Copyright\n */\npackage com.example.gen;\n\n// This file is generated by protoc. Do not edit.\nclass A { \n",
    ] {
        let j = judge(ws, &BuiltinSettings::default(), &BuiltinInput::new(content.as_bytes()));
        assert_eq!((j.findings.len(), j.would_find.len()), (0, 1), "{content}");
        assert_eq!(j.waiver, Some(Waiver::WrittenByATool("the comment after its package declaration")), "{content}");
    }
    for content in [
        // Code between: an import, a second declaration's worth of text.
        "package main\n\nimport \"fmt\"\n\n// Code generated by x. DO NOT EDIT.\nvar a = 1 \n",
        // Not a package declaration first.
        "#include <a.h>\npackage x\n// Code generated by x. DO NOT EDIT.\nint a; \n",
        "package main // Code generated by x. DO NOT EDIT.\nvar a = 1 \n",
        // A generator's own source: the words in a string.
        "package main\n\nconst header = \"// Code generated by gen. DO NOT EDIT.\"\nvar a = 1 \n",
        // A comment after the package that speaks of other files.
        "package gen\n\n// Generates the tables; do not edit the generated files by hand.\nvar a = 1 \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
}

/// Babel's catalogs keep Babel's layout; a test's input of one empty line
/// and delimited records without a last line break are left as they are;
/// the same bytes elsewhere are judged.
#[test]
fn babel_catalogs_empty_line_test_inputs_and_unterminated_records_pass() {
    let (ws, fnl) = (BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline);
    let po = "# German translations for MkDocs.\n# \nmsgid \"\"\nmsgstr \"\"\n\"Project-Id-Version: MkDocs 1.2\\n\"\n\"Generated-By: Babel 2.14.0\\n\"\n\nmsgid \"Search\"\nmsgstr \"Suche\"\n\n";
    clean(ws, po.as_bytes());
    clean(fnl, po.as_bytes());
    let hand = po.replace("Generated-By: Babel", "Generated-By: hand");
    assert_eq!(run(fnl, hand.as_bytes()).len(), 1);
    assert_eq!(run(ws, hand.as_bytes()).len(), 1);
    // The header's words in a message, not the header.
    let quoted = "msgid \"x\"\nmsgstr \"Generated-By: Babel 2\"\n\n";
    assert_eq!(run(fnl, quoted.as_bytes()).len(), 1);
    let in_tests = FileMarks { in_tests: true, ..FileMarks::NONE };
    for empty_line in [&b"\n"[..], b"\r\n", b"\r"] {
        assert!(marked(fnl, in_tests, empty_line).is_empty(), "{empty_line:?}");
        let j =
            judge(fnl, &BuiltinSettings::default(), &BuiltinInput { marks: in_tests, ..BuiltinInput::new(empty_line) });
        assert_eq!(j.waiver, Some(Waiver::EmptyLineTestFile));
        assert_eq!(run(fnl, empty_line).len(), 1, "{empty_line:?}: outside tests");
    }
    assert_eq!(marked(fnl, in_tests, b"\n\n").len(), 1, "two empty lines");
    let csv = FileMarks { delimited: true, ..FileMarks::NONE };
    assert!(marked(fnl, csv, b"state,abbrev\nAlabama,AL").is_empty());
    let j = judge(fnl, &BuiltinSettings::default(), &BuiltinInput { marks: csv, ..BuiltinInput::new(b"a,b") });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::LastRecordUnterminated), 1));
    assert_eq!(marked(fnl, csv, b"a,b\n\n").len(), 1, "a blank line at the end");
    assert_eq!(run(fnl, b"a,b").len(), 1, "not named as records");
}

/// A header that says the file is generated counts without a word of
/// editing (babel's generated `tsconfig.json` files); a Markdown page's
/// comment after its front matter and title too (react-router's API pages).
#[test]
fn a_header_that_says_the_file_is_generated_counts() {
    let (ws, fnl) = (BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline);
    let tsconfig =
        "/* This file is automatically generated by scripts/generators/tsconfig.ts */\n{\n  \"extends\": []\n}";
    clean(fnl, tsconfig.as_bytes());
    for header in [
        "// This file was generated by gen.py",
        "# this file has been auto-generated",
        "/* This file is machine-generated. */",
    ] {
        clean(ws, format!("{header}\nx = 1 \n").as_bytes());
    }
    let page = "---\ntitle: useParams\n---\n\n# useParams\n\n<!--\n\u{26a0}\u{fe0f} IMPORTANT \u{26a0}\u{fe0f} \n\nThis file is auto-generated from the JSDoc comments in the source\ncode.\n-->\n\nText \n";
    clean(ws, page.as_bytes());
    for content in [
        "// This file is the generated one's twin.\nx = 1 \n",
        "// This file is generated_config.h's doc\nx = 1 \n",
        "// This file is regenerated by hand\nx = 1 \n",
        "x = 1\n// This file is generated by gen.py\ny = 2 \n",
        // A page's second heading, or text, before the comment.
        "---\ntitle: a\n---\n\n# A\n\n## B\n\n<!-- This file is generated -->\nText \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
}

/// JSON below a directory of tests whose only faults are lone surrogate
/// escapes is a parser's test input; elsewhere, or with another fault, it
/// is judged.
#[test]
fn lone_surrogates_in_a_test_s_json_are_its_input() {
    let in_tests = FileMarks { in_tests: true, ..FileMarks::NONE };
    let whatwg = b"[{\"input\": \"http://example.com/\\uD800\\uD801\", \"failure\": false}]\n";
    for kind in [BuiltinKind::Json, BuiltinKind::Jsonc] {
        assert!(marked(kind, in_tests, whatwg).is_empty(), "{kind}");
        let j =
            judge(kind, &BuiltinSettings::default(), &BuiltinInput { marks: in_tests, ..BuiltinInput::new(whatwg) });
        assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::TestSurrogates), 2), "{kind}");
        assert_eq!(run(kind, whatwg).len(), 2, "{kind}: outside tests");
    }
    let broken = b"[\"\\uD800\", ]\n";
    assert_eq!(marked(BuiltinKind::Json, in_tests, broken).len(), 2, "a trailing comma too");
}

/// A parser's input of old Mac line endings below a directory of tests; a
/// gettext catalog's and a Vim script's declared encodings.
#[test]
fn lone_cr_test_inputs_and_declared_catalog_and_vim_encodings_pass() {
    let mle = BuiltinKind::MixedLineEndings;
    let in_tests = FileMarks { in_tests: true, ..FileMarks::NONE };
    assert!(marked(mle, in_tests, b"a\rb\nc\n").is_empty());
    let j =
        judge(mle, &BuiltinSettings::default(), &BuiltinInput { marks: in_tests, ..BuiltinInput::new(b"a\rb\nc\n") });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::LoneCrTestFile), 1));
    assert_eq!(run(mle, b"a\rb\nc\n").len(), 1, "outside tests");
    assert_eq!(marked(mle, in_tests, b"a\r\nb\nc\r").len(), 1, "with CRLF: an editor's");
    let utf8 = BuiltinKind::Utf8;
    let po = |charset: &str| {
        format!("# Vim\nmsgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset={charset}\\n\"\n\nmsgid \"a\"\nmsgstr \"").into_bytes()
    };
    clean(utf8, &[po("ISO-8859-1"), b"\xe9\"\n".to_vec()].concat());
    clean(utf8, &[po("cp1250"), b"\xe9\"\n".to_vec()].concat());
    for charset in ["UTF-8", "CHARSET"] {
        assert_eq!(run(utf8, &[po(charset), b"\xe9\"\n".to_vec()].concat()).len(), 1, "{charset}");
    }
    clean(utf8, b"\" Menu Translations\nscriptencoding latin1\nmenutrans &File &Fichier\xe9\n");
    for content in [&b"scriptencoding utf-8\nx \xe9\n"[..], b"\" scriptencoding latin1\nx \xe9\n", b"let x = 1\n\xe9\n"]
    {
        assert_eq!(run(utf8, content).len(), 1, "{content:?}");
    }
}

/// f2c's translations (OpenBLAS's LAPACK in C, with 500 lines of its own
/// first; its test drivers, whose comment was taken out), f2py's
/// signature files, xfig's drawings and a generator's capitals keep the
/// tools' layout; the same words elsewhere, or by hand, are judged.
#[test]
fn f2c_f2py_xfig_and_autogenerated_kernels_keep_the_tools_layout() {
    let ws = BuiltinKind::TrailingWhitespace;
    let prelude = "#include <math.h>\ntypedef int integer;\n".repeat(400);
    let f2c = format!(
        "{prelude}/*  -- translated by f2c (version 20000121).\n   You must link the resulting object file with the libraries:\n\t-lf2c -lm   (in that order)\n*/\n\n/* Subroutine */ int cbdsqr_(char *uplo, integer *n, integer *ncvt, \n\tinteger *nru)\n{{\n}}\n\n"
    );
    assert!(f2c.len() > 12 << 10);
    clean(ws, f2c.as_bytes());
    clean(BuiltinKind::FinalNewline, f2c.as_bytes());
    let stripped = "#include \"f2c.h\"\n\n/* Subroutine */ int check1_(real *sfac)\n{\n    static integer i__; \n}\n";
    clean(ws, stripped.as_bytes());
    let pyf = "python module fib2 ! in \n    interface\n    end interface\nend python module fib2\n\n! This file was auto-generated with f2py (version:2.28.198-1366).\n! See http://cens.ioc.ee/projects/f2py2e/\n";
    clean(ws, pyf.as_bytes());
    let fig = "#FIG 3.2\nLandscape\nCenter\nInches\nLetter  \n100.00\n";
    clean(ws, fig.as_bytes());
    let kernel =
        "/*\n\nAUTOGENERATED KERNEL\nScript: ./kernel/riscv64/generate_kernel.py\nSettings:\n LMUL=2\n*/\n\nint x; \n";
    clean(ws, kernel.as_bytes());
    for content in [
        // The comment past where it is looked for, or not a comment's line.
        format!("{}/* a.f -- translated by f2c (version 1).\n*/\nint x; \n", "x\n".repeat(20 << 10)),
        "printf(\"a.f -- translated by f2c (version 1)\");\nint x; \n".to_owned(),
        // A subroutine comment on a hand-written function, indented or
        // without f2c's trailing underscore.
        "extern /* Subroutine */ int check1_(real*); \n".to_owned(),
        "/* Subroutine */ int check(void) \n".to_owned(),
        // f2py's words in a text's middle, `#FIG` without its version.
        "text\n! This file was auto-generated with f2py (version:1)\nmore text \n".to_owned() + &"x\n".repeat(600),
        "#FIGURE \n".to_owned(),
        // Capitals further down the comment, or in lower case.
        "/*\n * Copyright\n * AUTOGENERATED KERNEL\n */\nint x; \n".to_owned(),
        "/* autogenerated kernel */\nint x; \n".to_owned(),
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content:.200}");
    }
}

/// Seventh-round signatures: l3build's expected logs and docstrip's
/// output, which say they are generated; Qt's SVGs, BDF fonts, source
/// maps, Org's Texinfo export, kramdown's man pages, Wrangler's types,
/// PostScript a program wrote; the same words by hand, or elsewhere, are
/// judged.
#[test]
fn l3build_docstrip_qt_bdf_and_other_tools_keep_their_layout() {
    let ws = BuiltinKind::TrailingWhitespace;
    let tlg = "This is a generated file for the LaTeX (2e + expl3) validation system.\nDon't change this file in any respect.\nAuthor: Joseph Wright\n<argument> \\l_h_box \n";
    clean(ws, tlg.as_bytes());
    let docstrip = "%%\n%% This is file `xparse.sty',\n%% generated with the docstrip utility.\n%% \n\\def\\x{} \n";
    clean(ws, docstrip.as_bytes());
    let frozen = "%%\n%% This is file `xparse-2018-04-12.sty', generated from\n%% xparse.dtx\n\\def\\x{} \n";
    clean(ws, frozen.as_bytes());
    let qt = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<svg width=\"1\" height=\"1\"\n xmlns=\"http://www.w3.org/2000/svg\" >\n<title>Qt SVG Document</title>\n<desc>Generated with Qt</desc>\n<g fill=\"none\" \n>\n</g>\n</svg>\n";
    clean(ws, qt.as_bytes());
    let bdf = "STARTFONT 2.1\nFONT -x\nSTARTCHAR A\nBITMAP \n00\nENDCHAR\nENDFONT\n";
    clean(ws, bdf.as_bytes());
    let map = format!("{{\"version\":3,\"sources\":[\"a.ts\"],\"mappings\":\"{}\"}}", "AAAA,".repeat(200_000));
    let large = BuiltinSettings::default();
    assert!(check(BuiltinKind::LargeFile, &large, &BuiltinInput::new(map.as_bytes())).is_empty());
    let texi = "\\input texinfo    @c -*- texinfo -*-\n@c %**start of header\n@setfilename magit.info\n@example \n";
    clean(ws, texi.as_bytes());
    clean(ws, b".\\\" generated by kramdown\n.TH \"BREW\" \"1\"\n.SH NAME \n");
    clean(
        ws,
        b"/* eslint-disable */\n// Generated by Wrangler by running `wrangler types` (hash: 1)\ninterface Env { \n",
    );
    let ps = "%!PS-Adobe-3.0\n%%Creator: cairo 1.16.0 (https://cairographics.org)\n%%EndComments\nnewpath \n";
    clean(ws, ps.as_bytes());
    for content in [
        // Not the file's first line, or not of a file ("a generated list").
        "Notes\nThis is a generated file for tests.\nx \n",
        "This is a generated list of names.\nx \n",
        // docstrip's words about another file, without `generated`.
        "%% This is file `notes.tex', written by hand.\n\\def\\x{} \n",
        // A hand-made SVG mentioning Qt, a BDF named in prose.
        "<svg>\n<desc>Drawn in Qt Creator</desc> \n</svg>\n",
        "The font begins STARTFONT 2.1 \n",
        // Texinfo by hand; PostScript by hand (a bare `%!`, or no creator).
        "\\input texinfo   @c -*-texinfo-*-\n@c %**start of header\nx \n",
        "%!\nnewpath \n",
        "%!PS-Adobe-3.0\n%%Title: mine\n%%EndComments\nnewpath \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
    // A hand-written JSON that begins as a source map does (not one).
    let sized = BuiltinSettings { max_size: 10 };
    let not_map = b"{\"version\": 3, \"name\": \"config\"}";
    assert_eq!(check(BuiltinKind::LargeFile, &sized, &BuiltinInput::new(not_map)).len(), 1);
}

/// A minified bundle is as large as the minifier made it; Stardoc's pages
/// and esbuild's bundles keep the tools' layout; a test's CSV input of
/// mixed endings is the reader's test.
#[test]
fn minified_bundles_stardoc_esbuild_and_mixed_test_records() {
    let sized = BuiltinSettings { max_size: 1000 };
    let minified = format!("var a={};\n", "f(1),".repeat(600));
    let js = FileMarks { js_or_css: true, ..FileMarks::NONE };
    let input = BuiltinInput { marks: js, ..BuiltinInput::new(minified.as_bytes()) };
    let j = judge(BuiltinKind::LargeFile, &sized, &input);
    assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::Minified), 1));
    // Not named a script, or not minified: reported.
    assert_eq!(check(BuiltinKind::LargeFile, &sized, &BuiltinInput::new(minified.as_bytes())).len(), 1);
    let lines = "var a = 1;\n".repeat(200);
    let input = BuiltinInput { marks: js, ..BuiltinInput::new(lines.as_bytes()) };
    assert_eq!(check(BuiltinKind::LargeFile, &sized, &input).len(), 1);
    let ws = BuiltinKind::TrailingWhitespace;
    clean(ws, b"<!-- Generated with Stardoc: http://skydoc.bazel.build -->\n\n| Name | \n");
    let esbuild = "\"use strict\";\nvar __defProp = Object.defineProperty;\nvar __getOwnPropNames = Object.getOwnPropertyNames;\nvar x = 1; \n";
    clean(ws, esbuild.as_bytes());
    assert_eq!(run(ws, b"var __defProp = Object.defineProperty;\nvar x = 1; \n").len(), 1);
    // A CSV below a directory of tests: an LF header over CRLF rows.
    let csv = b"a,b\n1,2\r\n3,4\r\n";
    let mixed = BuiltinKind::MixedLineEndings;
    let test_csv = FileMarks { in_tests: true, delimited: true, ..FileMarks::NONE };
    assert!(marked(mixed, test_csv, csv).is_empty());
    let j = judge(mixed, &BuiltinSettings::default(), &BuiltinInput { marks: test_csv, ..BuiltinInput::new(csv) });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::MixedTestRecords), 1));
    for marks in [
        FileMarks { delimited: true, ..FileMarks::NONE },
        FileMarks { in_tests: true, ..FileMarks::NONE },
        FileMarks { eol: Some(LineEnding::Lf), ..test_csv },
    ] {
        assert!(!marked(mixed, marks, csv).is_empty(), "{marks:?}");
    }
}

/// Eighth-round signatures: indented source maps, Illustrator's exports,
/// FlameGraph's SVGs, Transifex's catalogs, a block explorer's contract
/// source; the same words by hand are judged.
#[test]
fn source_maps_illustrator_flamegraph_transifex_and_explorer_sources() {
    let ws = BuiltinKind::TrailingWhitespace;
    let sized = BuiltinSettings { max_size: 100 };
    let map =
        format!("{{\n  \"version\": 3,\n  \"sources\": [\"a.ts\"],\n  \"mappings\": \"{}\"\n}}\n", "AAAA,".repeat(100));
    assert!(check(BuiltinKind::LargeFile, &sized, &BuiltinInput::new(map.as_bytes())).is_empty());
    let config = format!("{{\n  \"version\": 3,\n  \"name\": \"{}\"\n}}\n", "x".repeat(200));
    assert_eq!(check(BuiltinKind::LargeFile, &sized, &BuiltinInput::new(config.as_bytes())).len(), 1);
    clean(ws, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg id=\"Layer_2\" data-name=\"Layer 2\" xmlns=\"http://www.w3.org/2000/svg\">\n  <g> \n</g></svg>");
    assert_eq!(run(ws, b"<svg id=\"Layer_2\" data-name=\"Layer 3\">\n<g> \n</svg>\n").len(), 1);
    clean(ws, b"<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\">\n<!-- Flame graph stack visualization. See https://github.com/brendangregg/FlameGraph -->\n<defs >\n</svg>\n");
    let po = "# Translators:\n# \nmsgid \"\"\nmsgstr \"\"\n\"Language-Team: Russian (https://app.transifex.com/netbox-community/teams/178115/ru/)\\n\"\n\nmsgid \"x\"\nmsgstr \"y\"\n";
    clean(ws, po.as_bytes());
    let hand = po.replace("transifex.com", "example.org");
    assert_eq!(run(ws, hand.as_bytes()).len(), 1);
    clean(ws, b"/**\n *Submitted for verification at Etherscan.io on 2022-02-07\n*/\n\ncontract A { \n}\n");
    assert_eq!(run(ws, b"// Submitted for verification at Etherscan.io\ncontract A { \n}\n").len(), 1);
}

/// go-bindata's output (its `DO NOT EDIT` after the list of sources) and
/// pages whose generator's comment follows the doctype (pkgdown's,
/// mandoc's) keep the tools' layout; hand-written ones are judged.
#[test]
fn go_bindata_and_pages_signed_after_their_doctype_keep_the_tools_layout() {
    let ws = BuiltinKind::TrailingWhitespace;
    clean(ws, b"// Code generated by go-bindata.\n// sources:\n// ui/css/app.css\n// DO NOT EDIT!\n\npackage main\nvar x = 1 \n");
    let pkgdown = "<!DOCTYPE html>\n<!-- Generated by pkgdown: do not edit by hand --><html lang=\"en\">\n<head> \n";
    clean(ws, pkgdown.as_bytes());
    let mandoc =
        "<!DOCTYPE html>\n<html>\n<!-- This is an automatically generated file.  Do not edit.\n   -->\n<head> \n";
    clean(ws, mandoc.as_bytes());
    for content in [
        // `DO NOT EDIT` past the leading comments, or the line not
        // opening them.
        "// Code generated by go-bindata.\n// sources: a\npackage main\n// DO NOT EDIT!\nvar x = 1 \n",
        "// Copyright 2020\n// Code generated by hand, not a tool. Do not\n// edit\nvar x = 1 \n",
        // A page whose first comment says nothing of a generator.
        "<!DOCTYPE html>\n<html>\n<!-- the menu -->\n<head> \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
}

/// Captured terminal output (tmux's `image.sixel`) keeps its layout; a
/// file with an escape sequence further in is judged.
#[test]
fn a_file_beginning_with_an_escape_sequence_keeps_its_layout() {
    let sixel = b"\x1bPq\n#0;2;0;0;0 \n\x1b\\";
    for kind in [BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline] {
        clean(kind, sixel);
        let j = judge(kind, &BuiltinSettings::default(), &BuiltinInput::new(sixel));
        assert_eq!(j.waiver, Some(Waiver::TerminalOutput), "{kind}");
    }
    assert_eq!(run(BuiltinKind::TrailingWhitespace, b"text\n\x1b[1mbold\x1b[0m \n").len(), 1);
}

/// A test file for a runner given the files (`bats`, `zunit`) needs no
/// execute bit; a script for another interpreter does.
#[test]
fn test_files_for_bats_and_zunit_need_no_execute_bit() {
    let shebang = BuiltinKind::ShebangExecutable;
    for content in [
        "#!/usr/bin/env bats\n@test \"x\" { true; }\n",
        "#!/usr/local/bin/bats\n",
        "#!/usr/bin/env -S bats --tap\n",
        "#!/usr/bin/env zunit\n@test 'x' { }\n",
    ] {
        clean(shebang, content.as_bytes());
    }
    for content in ["#!/usr/bin/env bash\n", "#!/usr/bin/env batsx\n", "#!/bin/sh bats\n"] {
        assert_eq!(run(shebang, content.as_bytes()).len(), 1, "{content}");
    }
    assert_eq!(interpreter(b"/usr/bin/env FOO=1 -S python3 -u"), b"python3");
    assert_eq!(interpreter(b"/bin/sh -e"), b"sh");
    assert_eq!(interpreter(b"/usr/bin/env"), b"env");
}

/// Files tools write, known by their contents: panvimdoc's help files (by
/// the signature and modeline ending them), a README knitr renders from R
/// Markdown (usethis's first comment); the words elsewhere are judged.
#[test]
fn panvimdoc_help_and_knitr_readmes_keep_the_tools_layout() {
    let tw = BuiltinKind::TrailingWhitespace;
    let help = "*lazy.nvim.txt*  A modern plugin manager\n\n>lua\n    require('x')\n    \n    require('y')\n<\n\nGenerated by panvimdoc <https://github.com/kdheepak/panvimdoc>\n\nvim:tw=78:ts=8:noet:ft=help:norl:\n";
    clean(tw, help.as_bytes());
    // The modeline alone, or the signature not at the end: judged.
    assert_eq!(run(tw, b"text \n\nvim:tw=78:ts=8:noet:ft=help:norl:\n").len(), 1);
    let quoted = "x = \"\"\"\nGenerated by panvimdoc <https://github.com/kdheepak/panvimdoc>\n\nvim:tw=78:ts=8:noet:ft=help:norl:\n\"\"\" \n";
    assert_eq!(run(tw, quoted.as_bytes()).len(), 1);
    let readme = "\n<!-- README.md is generated from README.Rmd. Please edit that file -->\n\n# dplyr\n\n``` r\nstarwars\n#> # A tibble: 87 × 14\n#>    name     \n```\n";
    clean(tw, readme.as_bytes());
    clean(tw, readme.replace("README.Rmd", "index.qmd").as_bytes());
    for other in ["<!-- Please edit that file -->", "<!-- README.md is generated from docs/. Please edit that file -->"]
    {
        let text = readme.replace("<!-- README.md is generated from README.Rmd. Please edit that file -->", other);
        assert_eq!(run(tw, text.as_bytes()).len(), 1, "{other}");
    }
}

/// A Kubernetes CustomResourceDefinition over the limit is an API's
/// schema, copied whole; other YAML that large is reported.
#[test]
fn large_custom_resource_definitions_are_committed_on_purpose() {
    let settings = BuiltinSettings { max_size: 64 };
    let judged = |content: &str| {
        let input = BuiltinInput::new(content.as_bytes());
        judge(BuiltinKind::LargeFile, &settings, &input)
    };
    let crd = format!(
        "# https://raw.githubusercontent.com/argoproj/argo-workflows/crds.yaml\n{{{{- if .Values.crds.install }}}}\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: workflows.argoproj.io\n{}",
        "x".repeat(200)
    );
    let j = judged(&crd);
    assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::CustomResourceDefinition), 1));
    let objects =
        format!("apiVersion: v1\nkind: ConfigMap\ndata:\n  note: kind: CustomResourceDefinition\n{}", "x".repeat(200));
    assert_eq!(judged(&objects).findings.len(), 1);
    // Under the limit: nothing to waive.
    let small = BuiltinInput::new(b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n");
    assert_eq!(judge(BuiltinKind::LargeFile, &BuiltinSettings::default(), &small).waiver, None);
}

/// Dokka's pages, javadoc's from before JDK 9 and its style sheet, and the
/// Gradle wrapper's scripts keep their tools' layout; the words elsewhere
/// than in the header, or a script's mode, are judged.
#[test]
fn dokka_javadoc_and_gradle_wrapper_files_keep_the_tools_layout() {
    let (tw, nl) = (BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline);
    let dokka = "<!doctype html>\n<html class=\"no-js\" lang=\"en\">\n<head>\n<link href=\"../images/logo-icon.svg\" rel=\"icon\" type=\"image/svg\"><script>var pathToRoot = \"../\";</script>\n<script>const storage = localStorage.getItem(\"dokka-dark-mode\")</script>\n</head>\n</html>";
    clean(nl, dokka.as_bytes());
    let javadoc = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n<!-- NewPage -->\n<html lang=\"en\">\n<head>\n<!-- Generated by javadoc (1.8.0_25) on Sat Dec 20 2014 -->\n<title>Field</title> \n</head>\n";
    clean(tw, javadoc.as_bytes());
    clean(tw, b"/* Javadoc style sheet */\n/*\nOverall document style\n*/ \nbody { }\n");
    let gradlew = "#!/bin/sh\n\n##############################################################################\n#\n#   Gradle start up script for POSIX generated by Gradle.\n#\n        # shellcheck disable=SC3045 \n";
    clean(tw, gradlew.as_bytes());
    clean(tw, b"@rem\r\n@rem  Gradle startup script for Windows\r\n@rem \r\n");
    // A page of one's own that sets a path, a page about javadoc, a
    // script that names Gradle.
    for content in [
        "<html><script>var pathToRoot = \"../\";</script> \n</html>\n",
        "<p>Generated by javadoc (JDK 8)</p> \n",
        "# our start script \necho Gradle\n",
    ] {
        assert_eq!(run(tw, content.as_bytes()).len(), 1, "{content}");
    }
    // The wrapper's mode is still its own to get right.
    assert_eq!(run(BuiltinKind::ShebangExecutable, gradlew.as_bytes()).len(), 1);
}

/// A script `linguist-vendored` marks keeps upstream's mode; one marked
/// generated does not (a tool that writes a script sets its mode).
#[test]
fn a_vendored_script_keeps_upstream_s_mode() {
    let script = b"#!/bin/sh\necho\n";
    let judged = |marks| {
        judge(
            BuiltinKind::ShebangExecutable,
            &BuiltinSettings::default(),
            &BuiltinInput { marks, ..BuiltinInput::new(script) },
        )
    };
    let j = judged(FileMarks { vendored: true, ..FileMarks::NONE });
    assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::VendoredMark), 1));
    assert_eq!(judged(FileMarks { generated: true, ..FileMarks::NONE }).findings.len(), 1);
}

/// Below a directory of tests, a PHP or Ruby heredoc's body is a test's
/// expected output or input (Symfony's `TableTest.php` renders padded
/// tables into `<<<EOTXT`), and keeps its blanks; the code around it, a
/// heredoc elsewhere, and an opener never closed are judged.
#[test]
fn heredocs_in_tests_keep_their_blanks() {
    let judged = |content: &str, in_tests: bool| {
        let marks = FileMarks { in_tests, ..FileMarks::NONE };
        let input = BuiltinInput { marks, ..BuiltinInput::new(content.as_bytes()) };
        let found = check(BuiltinKind::TrailingWhitespace, &BuiltinSettings::default(), &input);
        found.iter().map(|f| f.line.unwrap()).collect::<Vec<u32>>()
    };
    let php = "<?php\n$expected = <<<EOTXT\n+---+ \n| a | \n+---+ \nEOTXT;\n$x = 1; \n$y = <<<'NOW'\n  b \n  NOW;\n";
    assert_eq!(judged(php, true), [7]);
    assert_eq!(judged(php, false), [3, 4, 5, 7, 9]);
    // Ruby's squiggly and dash heredocs, two on one line, and a bare one.
    let ruby = "expect(out(<<~A, <<-B)).to eq(<<C) \n  x \nA\n  y \n  B\nz \nC\nw \n";
    assert_eq!(judged(ruby, true), [1, 8]);
    // A shift is no heredoc; an opener never closed (in a comment) is none.
    assert_eq!(judged("a <<b \nc \n", true), [1, 2]);
    assert_eq!(judged("// use <<<EOT for it \nx \n", true), [1, 2]);
    // Perl's quoted openers (i3's tests: a configuration under test that
    // ends a line with a blank).
    let perl = "my $config = <<'EOT';\noutput anything \nEOT\nmy $x = <<\"END_PERL\"; \n$y = 1; \nEND_PERL\nok(1); \n";
    assert_eq!(judged(perl, true), [4, 7]);
    // A TAP test is a test's source; a `.t` elsewhere, or another file in
    // `t/`, is not one.
    for path in [&b"t/20_policy.t"[..], b"testcases/t/317-bar.t", b"xt/author/pod.t"] {
        assert!(super::is_tap_test(path), "{}", String::from_utf8_lossy(path));
    }
    for path in [&b"lib/a.t"[..], b"t/lib/helper.pm", b"tt/a.t", b"a.t"] {
        assert!(!super::is_tap_test(path), "{}", String::from_utf8_lossy(path));
    }
}

/// A test's input kept from the formatter keeps its blanks and its end; a
/// file kept so that declares tests (webpack's `test/**/*.*` keeps its
/// hand-written `it(…)` files from Prettier too) is its authors', and a
/// mix of line endings is judged either way.
#[test]
fn a_test_input_kept_from_the_formatter_but_not_test_code() {
    let kept = FileMarks { kept_from_formatter: true, in_tests: true, ..FileMarks::NONE };
    let judged = |kind, content: &[u8]| {
        judge(kind, &BuiltinSettings::default(), &BuiltinInput { marks: kept, ..BuiltinInput::new(content) })
    };
    let input = b"module.exports = 1; \n\n";
    for kind in [BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline] {
        let j = judged(kind, input);
        assert_eq!((j.findings.len(), j.waiver, j.would_find.len()), (0, Some(Waiver::KeptFromFormatter), 1), "{kind}");
    }
    assert_eq!(judged(BuiltinKind::MixedLineEndings, b"a\r\nb\n").findings.len(), 1);
    for code in [
        &b"it(\"works\", () => {\n\texpect(1).toBe(1); \n});\n\n"[..],
        b"import x from \"./x\";\n\ndescribe.each([1])(\"x\", () => {});\n\n",
        b"  test (\"y\", done => done()) \n",
    ] {
        assert!(
            !judged(BuiltinKind::TrailingWhitespace, code).findings.is_empty()
                || !judged(BuiltinKind::FinalNewline, code).findings.is_empty(),
            "{}",
            String::from_utf8_lossy(code)
        );
        assert_ne!(judged(BuiltinKind::FinalNewline, code).waiver, Some(Waiver::KeptFromFormatter));
    }
    // A word that only begins so is no declaration.
    assert_eq!(judged(BuiltinKind::FinalNewline, b"items(1)\ntested(2)\n\n").waiver, Some(Waiver::KeptFromFormatter));
    // Nor is a call of a module's own `test` (webpack's code-generation
    // inputs).
    let module = b"function test(value) {\n\treturn value;\n}\n\ntest(mod3.apple);\n\n";
    assert_eq!(judged(BuiltinKind::FinalNewline, module).waiver, Some(Waiver::KeptFromFormatter));
}

/// Openers that never close (C's `1<<SHIFT`, many to a file) cost a
/// look-up each, not a pass over the rest of the file: a file of 200,000
/// of them is judged as any other (before, each scanned to the end).
#[test]
fn heredoc_openers_that_never_close_cost_a_look_up_each() {
    let content = "x = 1<<SHIFT; \n".repeat(200_000);
    let marks = FileMarks { in_tests: true, ..FileMarks::NONE };
    let input = BuiltinInput { marks, ..BuiltinInput::new(content.as_bytes()) };
    let found = check(BuiltinKind::TrailingWhitespace, &BuiltinSettings::default(), &input);
    // As outside a directory of tests: every line's blank (up to the cap).
    assert_eq!(found, run(BuiltinKind::TrailingWhitespace, content.as_bytes()));
    assert_eq!(found[0].line, Some(1));
}

/// A file of many key headers, each with a line of material and no end,
/// is read once: the look for an excerpt's ellipsis stops at the next
/// block (and every block is a key).
#[test]
fn secrets_many_unended_key_blocks_are_read_once() {
    let block = "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDRS0LmTwUT0iwP\n";
    let content = block.repeat(100_000);
    let found = run(BuiltinKind::Secrets, content.as_bytes());
    assert!(found.len() > 1 && found[..found.len() - 1].iter().all(|f| f.message.contains("PRIVATE KEY")), "{found:?}");
    // An ellipsis after the next block's header is that block's, not this one's.
    let two = format!("{block}{block}...\n-----END PRIVATE KEY-----\n");
    assert_eq!(run(BuiltinKind::Secrets, two.as_bytes()).len(), 1, "the first is a key, the second an excerpt");
}

/// The forty-eighth session's signatures: old Doxyfiles, Visual C++ 6's
/// projects and workspaces and its `resource.h`, Premake's makefiles, a
/// generator's arrowed line, NIST's reference data, LyX documents,
/// Fabric.js's SVGs; the same words by hand, or elsewhere, are judged.
#[test]
fn doxyfiles_visual_cpp_six_premake_nist_lyx_and_fabric_keep_the_tools_layout() {
    let ws = BuiltinKind::TrailingWhitespace;
    for content in [
        "# Doxyfile 1.5.9\n\n# This file describes the settings to be used by the documentation system \n",
        "# Microsoft Developer Studio Project File - Name=\"resize\" - Package Owner=<4>\n# Microsoft Developer Studio Generated Build File, Format Version 6.00\n# ** DO NOT EDIT **\n\n!MESSAGE \n",
        "Microsoft Developer Studio Workspace File, Format Version 6.00\r\n# WARNING: DO NOT EDIT OR DELETE THIS WORKSPACE FILE!\r\n\r\n###############################################################################\r\n\r\nProject: \"squirrel\"=.\\squirrel.dsp - Package Owner=<4> \r\n",
        "//{{NO_DEPENDENCIES}}\n// Microsoft Developer Studio generated include file.\n// Used by MzCOM.rc\n// \n#define IDS_PROJNAME 100\n",
        "//{{NO_DEPENDENCIES}}\n// Microsoft Visual C++ generated include file.\n// \n",
        "# Alternative GNU Make project makefile autogenerated by Premake\n\nifndef config \n",
        "# GNU Make workspace makefile autogenerated by Premake\nall: \n",
        "/* >>>> Generated by mkmark.rkt from mzmarksrc.c <<<< */\n\nstatic int size(void *p) { \n",
        "NIST/ITL StRD\nDataset Name:  SmLs01   (SmLs01.dat)\n\nFile Format:   ASCII \n",
        "# This is the CMakeCache file.\n# For build in directory: /data/build\n//No help, variable specified on the command line.\nCMAKE_C_FLAGS:STRING= \n",
        "#LyX 1.6.2 created this file. For more info see http://www.lyx.org/\n\\lyxformat 345\nThe model is \n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\" ?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">\n<desc>Created with Fabric.js 5.3.0</desc>\n<g> \n</g></svg>\n",
    ] {
        clean(ws, content.as_bytes());
    }
    for content in [
        // A Doxyfile written by a newer doxygen names no version there.
        "# Doxyfile for the API docs\nPROJECT_NAME = x \n",
        "# Doxyfile 1.x is old \n",
        // The words not opening the file, or not a generator's.
        "# Build notes\n# ** DO NOT EDIT ** the Microsoft Developer Studio Workspace File by hand\nx \n",
        "# A GNU Make makefile, not autogenerated by Premake\nall: \n",
        "/* >>>> Generated by hand <<<< */\nint x; \n",
        "/* Generated by mkmark.rkt from mzmarksrc.c */\nint x; \n",
        "Data from NIST/ITL StRD\nx \n",
        "# This is the CMakeCache file, copied by hand\nx \n",
        "<svg>\n<text>Created with Fabric.js 5.3.0</text> \n</svg>\n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
    // A Visual Studio 2019 project: no `ToolsVersion`, still Visual
    // Studio's; without its `ProjectGuid`, a hand-written props file.
    let vs2019 = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Project DefaultTargets=\"Build\" xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\n  <PropertyGroup Label=\"Globals\">\n    <ProjectGuid>{A1B2}</ProjectGuid>\n  </PropertyGroup>\n</Project>";
    clean(BuiltinKind::FinalNewline, vs2019.as_bytes());
    let props = "<Project xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\n  <Import Project=\"a.props\" />\n</Project>";
    assert_eq!(run(BuiltinKind::FinalNewline, props.as_bytes()).len(), 1);
}

/// A CRD in JSON over the limit is an API's schema too; JSON that only
/// mentions the kind is judged.
#[test]
fn a_large_custom_resource_definition_in_json_is_committed_on_purpose() {
    let settings = BuiltinSettings { max_size: 64 };
    let judged = |content: &str| judge(BuiltinKind::LargeFile, &settings, &BuiltinInput::new(content.as_bytes()));
    let crd = format!(
        "{{\n  \"apiVersion\": \"apiextensions.k8s.io/v1\",\n  \"kind\": \"CustomResourceDefinition\",\n  \"metadata\": {{\"name\": \"{}\"}}\n}}\n",
        "x".repeat(200)
    );
    assert_eq!(judged(&crd).waiver, Some(Waiver::CustomResourceDefinition));
    let quoted = format!(
        "{{\n  \"note\": \"\\\"apiVersion\\\": \\\"apiextensions.k8s.io/v1\\\", \\\"kind\\\": \\\"CustomResourceDefinition\\\"\",\n  \"x\": \"{}\"\n}}\n",
        "x".repeat(200)
    );
    assert_eq!(judged(&quoted).findings.len(), 1, "named in a string");
}

/// antlr-format ends a grammar at its last rule; a grammar it does not
/// format is judged. A vendored file's encoding is upstream's; the
/// project's own is judged. A DejaGnu test's marker line is no conflict.
#[test]
fn antlr_format_grammars_vendored_encodings_and_dejagnu_markers() {
    let nl = BuiltinKind::FinalNewline;
    clean(nl, b"// $antlr-format alignTrailingComments true, columnLimit 150\ngrammar gtin;\n\ngtin: DIGIT+ EOF;");
    assert_eq!(run(nl, b"grammar gtin;\n\ngtin: DIGIT+ EOF;").len(), 1);
    let j = judge(nl, &BuiltinSettings::default(), &BuiltinInput::new(b"// $antlr-format on\ngrammar g;"));
    assert_eq!(j.waiver, Some(Waiver::AntlrFormat));

    let latin1 = b"// Copyright \xa9 1995 Jean-loup Gailly\nint x;\n";
    assert_eq!(run(BuiltinKind::Utf8, latin1).len(), 1);
    let vendored = FileMarks { vendored: true, ..FileMarks::default() };
    assert!(marked(BuiltinKind::Utf8, vendored, latin1).is_empty());
    let go = FileMarks { package_vendor: Some(PackageVendor::Go), ..FileMarks::default() };
    let j =
        judge(BuiltinKind::Utf8, &BuiltinSettings::default(), &BuiltinInput { marks: go, ..BuiltinInput::new(latin1) });
    assert_eq!((j.findings.len(), j.waiver), (0, Some(Waiver::PackageVendor(PackageVendor::Go))));

    let mc = BuiltinKind::MergeConflict;
    clean(mc, b"int x;\n<<<<<<< HEAD /* { dg-error \"conflict marker\" } */\nint y;\n=======\nint z;\n>>>>>>> p /* { dg-error \"conflict marker\" } */\n");
    assert_eq!(run(mc, b"int x;\n<<<<<<< HEAD\nint y;\n=======\nint z;\n>>>>>>> p /* dg note */\n").len(), 3);
}

/// An array a tool dumped into source, eight rows of numbers or more, keeps
/// the blank its writer leaves after each row's last comma; a short table,
/// or rows that hold anything but numbers, are judged.
#[test]
fn a_tools_dump_of_numbers_keeps_its_blanks_and_a_short_table_does_not() {
    let ws = BuiltinKind::TrailingWhitespace;
    let row = "0x2d, 0x2d, 0x20, 0x54, 0x68, 0x69, 0x73, \n";
    let dump = format!("const unsigned char nogame_lua[] = \n{{\n{}}};\n", row.repeat(8));
    // The declaration's own blank is still reported: it is no row.
    assert_eq!(positions(&run(ws, dump.as_bytes())), [(1, 35)]);
    let floats = format!("float t[] = {{\n{}}};\n", "\t1.5f, -2, 3e-4, 0x10u, 7UL, \r\n".repeat(9));
    clean(ws, floats.as_bytes());
    // Seven rows: a hand-written table, whose blanks are slips.
    let short = format!("int t[] = {{\n{}}};\n", row.repeat(7));
    assert_eq!(run(ws, short.as_bytes()).len(), 7);
    // A row of names breaks the run; so does a row not ending in a comma.
    for odd in ["KEY_A, KEY_B, \n", "0x01, 0x02 \n", "0x01,, 0x02, \n", "x0, 1, \n"] {
        let broken = format!("int t[] = {{\n{}{odd}{}}};\n", row.repeat(4), row.repeat(4));
        assert_eq!(run(ws, broken.as_bytes()).len(), 9, "{odd:?}");
    }
}

/// CommonMark's specification's examples keep their blanks (a hard line
/// break's two spaces are the example); its prose is judged.
#[test]
fn a_commonmark_specs_examples_keep_their_blanks_and_its_prose_does_not() {
    let ws = BuiltinKind::TrailingWhitespace;
    let fence = "`".repeat(32);
    let spec = format!(
        "A hard line break: \n\n{fence} example\nfoo  \nbaz\n.\n<p>foo<br />\nbaz</p>\n{fence}\n\nMore prose. \n\n{fence} example\r\n\tbar \r\n.\r\n{fence}\r\n"
    );
    assert_eq!(positions(&run(ws, spec.as_bytes())), [(1, 19), (11, 12)]);
    // Never closed: no example.
    let open = format!("{fence} example\nfoo  \n");
    assert_eq!(run(ws, open.as_bytes()).len(), 1);
    // Fewer backticks are a code block of the text's own.
    let short = format!("{} example\nfoo  \n{}\n", "`".repeat(31), "`".repeat(31));
    assert_eq!(run(ws, short.as_bytes()).len(), 1);
}

/// An HTML page that declares another charset is text in it; one that
/// declares UTF-8, or whose declaration comes past the first 1,024 bytes,
/// is judged.
#[test]
fn an_html_page_declaring_its_charset_is_read_in_it() {
    let utf8 = BuiltinKind::Utf8;
    for head in [
        "<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></HEAD>",
        "<!doctype html>\n<html><head><meta charset='windows-1252'>",
    ] {
        let page = [head.as_bytes(), b"\n<p>\xa3 5</p>\n"].concat();
        assert!(run(utf8, &page).is_empty(), "{head}");
    }
    for head in [
        "<html><head><meta charset=\"utf-8\">".to_owned(),
        format!("<html>{}<meta charset=\"iso-8859-1\">", " ".repeat(1024)),
        "<html><head><title>charset=latin1</title>".to_owned(),
    ] {
        let page = [head.as_bytes(), b"\n<p>\xa3 5</p>\n"].concat();
        assert_eq!(run(utf8, &page).len(), 1, "{head}");
    }
}

/// A script nbconvert exported from a notebook carries its template's
/// shebang; a Python script that merely mentions a notebook later, or
/// another interpreter's, is judged.
#[test]
fn a_notebooks_exported_script_needs_no_executable_bit() {
    let sb = BuiltinKind::ShebangExecutable;
    clean(sb, b"#!/usr/bin/env python\n# coding: utf-8\n\n# DO NOT EDIT\n#\n# Autogenerated from the notebook:\n# ols.ipynb\n\nimport numpy\n");
    clean(sb, b"#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nimport numpy\n\n\n# In[ ]:\n");
    for content in [
        &b"#!/usr/bin/env python\nimport json\n# reads results.ipynb\n"[..],
        b"#!/bin/sh\n# exported from run.ipynb\n",
        b"#!/usr/bin/env python3\nprint(1)\n# In the loop\n",
    ] {
        assert_eq!(run(sb, content).len(), 1, "{}", String::from_utf8_lossy(content));
    }
}

/// Chemistry's fixed-column records keep their blanks, told by content:
/// PDB, molfiles, MOL2, AMBER topologies, CIF; SDFormat's XML under the
/// same extension, and text that only starts like a record, are judged.
#[test]
fn chemistry_records_keep_their_columns_and_look_alikes_do_not() {
    let ws = BuiltinKind::TrailingWhitespace;
    for content in [
        "HEADER    OXIDOREDUCTASE                          01-JAN-00   1DRF              \nATOM      1  N   MET A   1      11.104   6.134  -6.504  1.00  0.00           N  \n",
        "REMARK   1 REFERENCE 1                                                          \nREMARK   2 RESOLUTION.                                                          \nHETATM    1  O   HOH A   1       1.000   2.000   3.000  1.00  0.00           O  \n",
        "benzene\n  Marvin  08150806542D          \n\n  6  6  0  0  0  0            999 V2000\n    0.0000    0.0000    0.0000 C   0  0\nM  END\n$$$$\n",
        "# comment\n@<TRIPOS>MOLECULE\nbenzene \n",
        "%VERSION  VERSION_STAMP = V0001.000  DATE = 05/22/06  12:10:21                  \n%FLAG TITLE                                                                     \n",
        "#\\#CIF_2.0\n# from the PDB\ndata_1ABC\n# \n_entry.id   1ABC \n",
    ] {
        clean(ws, content.as_bytes());
        let j = judge(ws, &BuiltinSettings::default(), &BuiltinInput::new(content.as_bytes()));
        assert!(matches!(j.waiver, Some(Waiver::ChemicalRecords(_))), "{content}");
    }
    for content in [
        // SDFormat, a robot's XML.
        "<?xml version=\"1.0\" ?>\n<sdf version=\"1.6\">\n  <model name=\"box\"> \n</sdf>\n",
        // A record name first, no atom.
        "TITLE of the talk \nabstract\n",
        "HEADER \nsome notes\n",
        // `data_` first but no tags: prose.
        "data_science notes \nare here\n",
        // A counts line's word, elsewhere than the fourth line.
        "V2000 \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
    // Not their size: a large structure is still a large file.
    let big = format!(
        "HEADER    X\n{}",
        "ATOM      1  N   MET A   1      11.104   6.134  -6.504  1.00  0.00           N  \n".repeat(10)
    );
    let sized = BuiltinSettings { max_size: 100 };
    assert_eq!(check(BuiltinKind::LargeFile, &sized, &BuiltinInput::new(big.as_bytes())).len(), 1);
}

/// Device vendors' generated headers, PolyglotMan's pages, xacro's URDF and
/// documentation.js's READMEs keep their tools' layout; the words by hand
/// are judged.
#[test]
fn vendor_headers_polyglotman_xacro_and_documentation_js_keep_the_tools_layout() {
    let (ws, nl) = (BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline);
    for content in [
        "// THIS HEADER FILE IS AUTOMATICALLY GENERATED -- DO NOT EDIT\n\n#define ADC_CS 0x0 \n",
        "/**\n * @file     RP2040.h\n * @note     Generated by SVDConv V3.3.18 on Monday, 12.10.2020\n */\n#define X 1 \n",
        "/* file generated from device description version 2019-11-25T06:43:07Z */\n#define Y 1 \n",
        "<!-- manual page source format generated by PolyglotMan v3.2, -->\n<html> \n",
        "<?xml version=\"1.0\" ?>\n<!-- =================================================================================== -->\n<!-- |    This document was autogenerated by xacro from model.urdf.xacro               | -->\n<robot name=\"arm\">\n  \n</robot>\n",
    ] {
        clean(ws, content.as_bytes());
    }
    clean(nl, b"# @turf/angle\n\n<!-- Generated by documentation.js. Update this documentation by updating the source code. -->\n\n## angle\n[x](y)");
    for content in [
        "// This header file is for the ADC. \n#define A 1\n",
        "<!-- This document was written by hand | -->\n<robot> \n</robot>\n",
        "/* the file generated from device description version 2 is below */\n\n#define Y 1 \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
    assert_eq!(
        run(nl, b"# @turf/angle\n\nSee documentation.js.\n<!-- Generated by documentation.js. -->\n[x](y)").len(),
        1
    );
}

/// Ragel's output and fontTools' TTX dumps keep their tools' layout, and a
/// Markdown file in CommonMark's spec format keeps its examples' blanks;
/// the look-alikes are judged.
#[test]
fn ragel_ttx_and_markdown_spec_examples_keep_their_blanks() {
    let ws = BuiltinKind::TrailingWhitespace;
    clean(ws, b"\n#line 1 \"hb-number-parser.rl\"\n/*\n * Copyright 2019\n */\nstatic const char _trans[] = {\n\t1, 0, \n};\n");
    clean(ws, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ttFont sfntVersion=\"\\x00\\x01\\x00\\x00\" ttLibVersion=\"3.43\">\n  <hexdata>\n    0001 \n  </hexdata>\n</ttFont>\n");
    for content in
        [&b"#line 1 \"parser.y\"\nint x; \n"[..], b"<?xml version=\"1.0\"?>\n<ttFont>\n  <name> \n</ttFont>\n"]
    {
        assert_eq!(run(ws, content).len(), 1, "{}", String::from_utf8_lossy(content));
    }
    let md = BuiltinKind::MarkdownTrailingWhitespace;
    let fence = "`".repeat(32);
    let spec =
        format!("# Attributes\n\n{fence} example\n# Foo {{#bar}}   \n.\n<h1 id=\"bar\">Foo</h1>\n{fence}\n\nProse. \n");
    assert_eq!(positions(&run(md, spec.as_bytes())), [(9, 7)]);
}

/// In a file below a directory of tests, a triple-quoted literal that is a
/// value (an expected output) keeps its blanks; a docstring, code around
/// the literal, and the same literal outside tests are judged.
#[test]
fn a_tests_triple_quoted_expected_output_keeps_its_blanks() {
    let ws = BuiltinKind::TrailingWhitespace;
    let tests = FileMarks { in_tests: true, ..FileMarks::default() };
    let py = "def test_str(self):\n    \"\"\"A docstring. \n    \"\"\"\n    self.assertEqual(str(a), \"\"\"\\\nAAA-- \nA-GT \n\"\"\")\n    expected = r'''\n  x  \n'''\n    assert out == f\"\"\"\ny \n\"\"\" \n";
    // The docstring's blank (line 2) and the one after the last literal
    // (line 13) are reported; the literals' are not.
    assert_eq!(positions(&marked(ws, tests, py.as_bytes())), [(2, 20), (13, 4)]);
    assert_eq!(run(ws, py.as_bytes()).len(), 6, "outside tests, every blank is reported");
    // A literal never closed: nothing after it is spared.
    let open = "x = \"\"\"\na \nb \n";
    assert_eq!(marked(ws, tests, open.as_bytes()).len(), 2);
    let kotlin = "val expected = \"\"\"\n    |a \n\"\"\".trimMargin()\nfun f() { } \n";
    assert_eq!(positions(&marked(ws, tests, kotlin.as_bytes())), [(4, 12)]);
}

/// SAM, VCF, GFF and GAF records keep their trailing fields; a comment's
/// prose there, and the same lines in a file of no such format, are judged.
#[test]
fn genomics_records_keep_their_empty_last_fields() {
    let ws = BuiltinKind::TrailingWhitespace;
    let sam = "@HD\tVN:1.6\n@CO\t\n@PG\tID:gatk\tCL:gatk --input x \nr1\t0\tchr1\t1\t60\t4M\t*\t0\t0\tACGT\t*\t\n";
    clean(ws, sam.as_bytes());
    let gff = "##gff-version 3\n# written by hand \nchr1\t.\tgene\t1\t9\t.\t+\t.\t\n";
    assert_eq!(positions(&run(ws, gff.as_bytes())), [(2, 18)]);
    let vcf = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\t\n1\t1\t.\tA\tC\t\n";
    clean(ws, vcf.as_bytes());
    assert_eq!(run(ws, b"@see\tthe docs \nx\t\n").len(), 2);
}

/// The SIL Open Font License as SIL publishes it (fonts' `OFL.txt`) ends
/// one line of its preamble with a blank, as Creative Commons' 4.0 legal
/// code does another; any other blank in them, or that line in another
/// text (a font's build file quoting the licence's words), is judged.
#[test]
fn published_licences_keep_their_one_blank() {
    let ws = BuiltinKind::TrailingWhitespace;
    let licence = "Copyright 2020 The Inter Project Authors\r\n\r\nThis Font Software is licensed under the SIL Open Font License, Version 1.1.\r\n\r\n\
                   -----------------------------------------------------------\r\nSIL OPEN FONT LICENSE Version 1.1 - 26 February 2007\r\n\
                   -----------------------------------------------------------\r\n\r\nPREAMBLE\r\n\
                   The OFL allows the licensed fonts to be used, studied, modified and\r\n\
                   redistributed freely as long as they are not sold by themselves. The\r\n\
                   fonts, including any derivative works, can be bundled, embedded, \r\n\
                   redistributed and/or sold with any software provided that any reserved\r\n";
    clean(ws, licence.as_bytes());
    clean(ws, licence.replace("\r\n", "\n").as_bytes());
    assert_eq!(positions(&run(ws, licence.replace("PREAMBLE", "PREAMBLE ").as_bytes())), [(9, 9)]);
    let quoted = "# fonts, including any derivative works, can be bundled, embedded, \nfonts, including any derivative works, can be bundled, embedded, \n";
    assert_eq!(run(ws, quoted.as_bytes()).len(), 2);
    // Creative Commons' 4.0 legal code: its `for the public: ` line; the
    // OFL's line there, or that line in the OFL, is judged.
    let cc = "Attribution 4.0 International\n\n====\n\nCreative Commons Corporation (\"Creative Commons\") is not a law firm and\ndoes not provide legal services.\n\n     Considerations\n     for the public: \n     By using one of our public licenses\n";
    clean(ws, cc.as_bytes());
    let swapped = format!("{cc}fonts, including any derivative works, can be bundled, embedded, \n");
    assert_eq!(positions(&run(ws, swapped.as_bytes())), [(11, 65)]);
    assert_eq!(run(ws, format!("{licence}     for the public: \n").as_bytes()).len(), 1);
}

/// The forty-ninth session's signatures: Bison's parsers, Doxygen's man
/// pages, `gen_manual`'s manuals, Nix derivations, zlib's generated
/// tables, Qt Linguist's catalogs, Eclipse's exported preferences,
/// CorelDRAW's, Krita's, Matplotlib's and draw.io's SVGs; the same words
/// elsewhere, or by hand, are judged.
#[test]
fn bison_doxygen_man_pages_nix_derivations_and_plot_exports_keep_the_tools_layout() {
    let ws = BuiltinKind::TrailingWhitespace;
    let fnl = BuiltinKind::FinalNewline;
    for content in [
        "/* A Bison parser, made by GNU Bison 3.8.2.  */\n\nstatic const yytype_int16 yypact[] = \n",
        "// A Bison parser, made by GNU Bison 3.8.2.\n\nnamespace yy { \n",
        ".TH \"decode.h\" 3 \"August 2021\" \"Brotli\" \\\" -*- nroff -*-\n.ad l\n.nh\n.SH NAME\ndecode.h \\- API\\&.  \n",
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">\n<title>1.10.0 Manual</title>\n</head>\n<body>\n<a name=\"Chapter1\"></a><h2>Introduction</h2><pre> \n</pre>\n",
        "/* crc32.h -- tables for rapid CRC calculation\n * Generated automatically by crc32.c\n */\n\nlocal const z_crc_t crc_table[] = { \n",
        "/* header created automatically with -DGEN_TREES_H */\n\nlocal const ct_data static_ltree[] = { \n",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE TS>\n<TS version=\"2.1\" language=\"pl_PL\">\n<message>\n<translation>Tak \n</translation>\n",
        "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"no\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">\n <metadata>\n  <dc:title>Matplotlib v3.5.3, https://matplotlib.org/</dc:title>\n </metadata>\n<path d=\"M 0 184.79 \nL 1 2\"/>\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Creator: CorelDRAW 2019 (64-Bit) -->\n<svg>\n<g> \n</g></svg>\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Created using Krita: https://krita.org -->\n<svg>\n<g> \n</g></svg>\n",
        "<svg host=\"65bd\" xmlns=\"http://www.w3.org/2000/svg\" content=\"&lt;mxfile&gt;&lt;diagram&gt;\">\n<g> \n</g></svg>\n",
    ] {
        clean(ws, content.as_bytes());
    }
    for content in [
        // Bison named, not as the skeleton's first line.
        "/* Parser for the grammar; see A Bison parser, made by GNU Bison */ \n",
        "# Built by Bison\nA Bison parser, made by GNU Bison 3.8 \n",
        // A man page written by hand.
        ".TH DECODE 3\n.SH NAME\ndecode \\- API \n",
        // A page with the head but not the manual's anchors.
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">\n<title>Notes</title>\n<p> \n",
        // A comment that mentions generation further down.
        "/* tables.h */\n/* by hand */\n/* more */\n/* Generated automatically by crc32.c */\nint x; \n",
        // An SVG that only speaks of the programs.
        "<svg>\n<text>Matplotlib v3</text> \n<text>Creator: CorelDRAW</text></svg>\n",
        // TypeScript, not a Qt catalog.
        "// <!DOCTYPE TS> is Qt's\nconst x = 1; \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
    // Nix's derivations and Eclipse's preferences, written without a final
    // line break; XML declared so by hand is judged.
    clean(
        fnl,
        b"Derive([(\"out\",\"/nix/store/c015-fixed\",\"sha256\",\"8945\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[])",
    );
    clean(fnl, b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?><templates><template autoinsert=\"true\" name=\"x\">y</template></templates>");
    clean(fnl, b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<profiles version=\"13\">\n<profile kind=\"CodeFormatterProfile\" name=\"x\" version=\"13\">\n</profile>\n</profiles>");
    assert_eq!(run(fnl, b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<config>\n</config>").len(), 1);
    assert_eq!(run(fnl, b"Derive is a word\nx").len(), 1);
}

/// Captured terminal output with an escape sequence in a third of its
/// lines keeps its layout, wherever its first escape is; a file with a
/// few coloured lines among many is judged.
#[test]
fn terminal_captures_keep_their_layout_by_their_escape_sequences() {
    let ws = BuiltinKind::TrailingWhitespace;
    clean(ws, b"[user@host]$ \r\x1b[K[user@host]$ ls\r\n\x1b[0mfile \r\n\x1b[1mdir\x1b[0m\r\n");
    let few = format!("{}\x1b[1mbold\x1b[0m\nline \n", "plain\n".repeat(6));
    assert_eq!(run(ws, few.as_bytes()).len(), 1);
    assert_eq!(run(ws, b"two \n\x1b[0m\n").len(), 1, "two lines are no capture");
}

/// Wycheproof's test vectors: their keys are published, their size their
/// cases'; a JSON file with a key and not those members is judged.
#[test]
fn published_test_vectors_hold_no_secret_and_no_accidental_size() {
    let key = "-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg";
    let vectors = format!(
        "{{\n  \"algorithm\": \"ECDH\",\n  \"schema\": \"ecdh_pem_test_schema_v1.json\",\n  \"numberOfTests\": 612,\n  \"testGroups\": [\n    {{\"tests\": [{{\"tcId\": 1, \"private\": \"{key}\\n-----END PRIVATE KEY-----\\n\"}}]}}\n  ]\n}}\n"
    );
    clean(BuiltinKind::Secrets, vectors.as_bytes());
    let plain =
        format!("{{\n  \"algorithm\": \"ECDH\",\n  \"private\": \"{key}\\n-----END PRIVATE KEY-----\\n\"\n}}\n");
    assert_eq!(run(BuiltinKind::Secrets, plain.as_bytes()).len(), 1);
    let settings = BuiltinSettings { max_size: 16 };
    fn sized(content: &[u8]) -> BuiltinInput<'_> {
        BuiltinInput { content, size: content.len() as u64, executable: false, binary: false, marks: FileMarks::NONE }
    }
    let judged = judge(BuiltinKind::LargeFile, &settings, &sized(vectors.as_bytes()));
    assert_eq!((judged.findings.len(), judged.waiver), (0, Some(Waiver::TestVectors)));
    assert_eq!(
        check(BuiltinKind::LargeFile, &settings, &sized(b"{\"algorithm\": \"x\", \"numberOfTests\": 1}")).len(),
        1
    );
}

/// Vagrant's insecure key is published for anyone to use; another key is
/// reported.
#[test]
fn vagrants_published_insecure_key_is_no_secret() {
    let vagrant = "-----BEGIN RSA PRIVATE KEY-----\nMIIEogIBAAKCAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzI\nw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoP\n-----END RSA PRIVATE KEY-----\n";
    clean(BuiltinKind::Secrets, vagrant.as_bytes());
    let other = vagrant.replace("6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr", "7XQ2pLmn4RsTuVwY3zAbCdEfGhIjKlMnOp");
    assert_eq!(run(BuiltinKind::Secrets, other.as_bytes()).len(), 1);
}

/// OpenRC's service scripts are installed with their own mode.
#[test]
fn openrc_service_scripts_need_no_executable_bit() {
    let sb = BuiltinKind::ShebangExecutable;
    clean(sb, b"#!/sbin/openrc-run\ncommand=/usr/bin/emqx\n");
    assert_eq!(run(sb, b"#!/sbin/openrc\necho\n").len(), 1);
}

/// In a patch, the last hunk's context line of an empty line (a lone
/// blank, or an empty line) is the hunk's, not a blank line at the end;
/// a blank line after a complete hunk is one. Git for Windows' version
/// ends a signature too.
#[test]
fn a_patch_s_last_hunk_keeps_its_empty_context_lines() {
    let fnl = BuiltinKind::FinalNewline;
    let blanks = FileMarks { keeps_trailing_whitespace: true, ..FileMarks::NONE };
    let hunk = "--- a/x.cmake\n+++ b/x.cmake\n@@ -1,3 +1,3 @@\n install(x)\n-old\n+new\n";
    // The third context line is an empty one, written as a lone blank.
    assert!(marked(fnl, blanks, format!("{hunk} \n").as_bytes()).is_empty());
    // Or as an empty line, as GNU patch takes it.
    clean(fnl, format!("{hunk}\n").as_bytes());
    // A hunk already complete: the line after it is a blank line.
    let complete = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n";
    assert_eq!(run(fnl, format!("{complete}\n").as_bytes()).len(), 1);
    assert_eq!(marked(fnl, blanks, format!("{complete} \n").as_bytes()).len(), 1);
    // Two empty lines where the hunk takes one: one is left over.
    let f = run(fnl, format!("{hunk}\n\n").as_bytes());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].message, "file ends with 1 blank line");
    // A hunk header without counts takes one line each side.
    clean(fnl, b"@@ -3 +3 @@\n-a\n+b\n");
    assert_eq!(run(fnl, b"@@ -3 +3 @@\n-a\n+b\n\n").len(), 1);
    // Not a hunk's lines: judged as any file.
    assert_eq!(run(fnl, b"@@ -1,3 +1,3 @@\n```\n\n").len(), 1);
    clean(fnl, b"+hi\n-- \n2.52.0.windows.1\n\n");
    assert_eq!(run(fnl, b"+hi\n-- \nwindows.2.52\n\n").len(), 1);
}

/// The fiftieth session's formats: OFF meshes, STEP and Eagle files,
/// DVBv5 channel tables, Tonel sources and Iceberg's metadata, tcllib's
/// doctools, MkDocs' pages, glad's loaders; the same words by hand, or
/// elsewhere, are judged.
#[test]
fn exported_formats_keep_their_writers_layout() {
    let (ws, fnl) = (BuiltinKind::TrailingWhitespace, BuiltinKind::FinalNewline);
    for content in [
        "OFF\n8 6 0\n-0.5 -0.5 0.5 \n0.5 -0.5 0.5 \n",
        "COFF 4 1 0\n0 0 0 255 0 0 255 \n1 0 0 255 0 0 255\n",
        "ISO-10303-21;\nHEADER;\n/* Generated by software containing ST-Developer\n * from STEP Tools, Inc. (www.steptools.com) \n */\n",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE eagle SYSTEM \"eagle.dtd\">\n<eagle version=\"9.6.2\">\n<description>Regeln \n</description>\n",
        "# Scan table\n[CHANNEL]\n\tDELIVERY_SYSTEM = DVBT\n\tFREQUENCY = 474000000 \n",
        "\"\nI am a command.\n\"\nClass {\n\t#name : #PhLAboutCommand,\n\t#superclass : #PhLCommand\n}\n\n{ #category : #accessing }\nPhLAboutCommand >> x [\n\t^ 1 \n]\n",
        "[//000000002]: # (Generated from file 'irc\\.man' by tcllib/doctools with format 'markdown')\n\nx \n",
        "<html><head>\n<script>var mkdocs_page_name = \"Installation\";</script>\n</head> \n",
        "/**\n * Loader generated by glad 2.0.4 on Mon Jan 1 2024\n */\n#ifndef GLAD_GL_H_ \n",
        "package: name='com.fsck.k9' versionCode='39001' versionName='9.0'\nsdkVersion:'21'\nproperty: name='x' value='y' \n",
        "; *** Inno Setup version 6.1.0+ English messages ***\n[LangOptions]\nLanguageName=English \n",
        "/// <reference types=\"expo/types\" />\n\n// NOTE: This file should not be edited and should be in your git ignore \n",
        "{\"data\":{\"__schema\":{\"queryType\":{\"name\":\"Query\"}}}} \n",
        "{\n  \"__schema\": {\n    \"types\": [] \n  }\n}\n",
        "// NOTE: This file should not be edited and should be committed with your source code. It is generated by NativeWind.\n/// <reference types=\"nativewind/types\" /> \n",
    ] {
        clean(ws, content.as_bytes());
    }
    // The DVBv5 table's empty line after its last section; Iceberg's
    // metadata, with no final line break.
    clean(fnl, b"[CHANNEL]\n\tDELIVERY_SYSTEM = DVBT\n\tFREQUENCY = 474000000\n\n");
    clean(fnl, b"{\n\t#format : #tonel\n}");
    clean(fnl, b"{\n\t'srcDirectory' : 'src'\n}");
    // An extension's definition, without a comment before it.
    clean(ws, b"Extension {\n\t#name : #Object\n}\n\nObject >> x [ \n]\n");
    clean(ws, b"Extension { #name : #FTTableMorph }\n\n{ #category : #x }\nFTTableMorph >> y [ \n]\n");
    for content in [
        // Not an OFF mesh: the keyword alone, a word after it, or no rows
        // of numbers.
        "OFF\nthe lights \n",
        "OFF \n",
        "OFFICE hours \n",
        "OFF\nnotes: a b c \n",
        // The words elsewhere, or by hand.
        "Notes on ISO-10303-21; \n",
        "<!-- eagle.dtd --> \n",
        "[CHANNEL]\nname = x \n",
        "# DELIVERY_SYSTEM = DVBT \n",
        "Class {\n\tname : x \n}\n",
        "\"unterminated comment\nClass {\n\t#name : #X \n",
        "puts \"Generated from file '$in' by tcllib/doctools with format '$fmt'\" \n",
        "<script>var mkdocs_page_name = {{ page.title|tojson }};</script> \n",
        "// the OpenGL loader is generated by glad \n",
        "package: name='x' \n",
        "Notes on Inno Setup version 6 \n",
        "// NOTE: This file should not be edited by hand \n",
        "{\"data\": {\"user\": {\"__schema\": 1}}} \n",
    ] {
        assert_eq!(run(ws, content.as_bytes()).len(), 1, "{content}");
    }
    assert_eq!(run(fnl, b"{\n\t#format : #json\n}").len(), 1);
}

/// Below a package recipe a script's mode is the recipe's: the shebang
/// check passes it (and says why when asked), and the mark has its own
/// bit, above the first 32, so the cached verdict of the same bytes
/// unmarked is not reused.
#[test]
fn a_package_recipe_s_script_passes_the_shebang_check() {
    let marks = FileMarks { package_recipe: true, ..FileMarks::NONE };
    let kind = BuiltinKind::ShebangExecutable;
    let script = b"#!/bin/sh\necho hi\n";
    assert_eq!(marked(kind, FileMarks::NONE, script).len(), 1);
    assert_eq!(marked(kind, marks, script), []);
    let j = judge(kind, &BuiltinSettings::default(), &BuiltinInput { marks, ..BuiltinInput::new(script) });
    assert_eq!((j.waiver, j.would_find.len()), (Some(Waiver::PackageRecipe), 1));
    // Only that check heeds it.
    assert_eq!(marked(BuiltinKind::TrailingWhitespace, marks, b"x \n").len(), 1);
    assert_eq!(marks.bits(), 1 << 32);
    assert!(marks.describe().iter().any(|m| m.contains("package recipe")), "{:?}", marks.describe());
}

/// A batch job for a cluster's scheduler (`sbatch job.sh`) has its
/// directives after the interpreter line: its mode is not asked. A script
/// that mentions them further down is run directly.
#[test]
fn a_scheduler_s_batch_job_need_not_be_executable() {
    let sb = BuiltinKind::ShebangExecutable;
    for job in [
        "#!/bin/bash\n#SBATCH --job-name=multigpu\n#SBATCH --nodes=1\n\nsrun python train.py\n",
        "#!/bin/sh\n# Train on four nodes.\n\n#PBS -l nodes=4\ncd $PBS_O_WORKDIR\n",
        "#!/bin/bash\n#BSUB -n 4\nmpirun ./a.out\n",
        "#!/bin/bash\n#$ -cwd\n#$ -pe smp 8\n./run\n",
    ] {
        clean(sb, job.as_bytes());
    }
    for script in [
        "#!/bin/bash\necho start\n#SBATCH --nodes=1\n",
        "#!/bin/bash\n# submit with sbatch, which reads #SBATCH lines\nsbatch job.sh\n",
    ] {
        assert_eq!(run(sb, script.as_bytes()).len(), 1, "{script}");
    }
}
