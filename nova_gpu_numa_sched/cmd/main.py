"""``nova-gpu-numa``: discover, status and check, for operators.

Reads nova.conf like nova-manage and nova-status (``--config-file``,
``--config-dir``; by default oslo.config's search for nova.conf), so it
uses the same ``[placement]`` credentials, databases and ``[libvirt]
connection_uri`` as Nova's services. Whatever fails, it prints one line on
stderr naming what failed and exits non-zero, never a traceback unless
``--debug`` asks for it; ``check`` reports an unreachable Placement or
database as the Failure of the checks that need it, as nova-status does.
"""

import argparse
import logging
import sys
import traceback

from oslo_config import cfg
from oslo_db import exception as db_exc

from nova_gpu_numa_sched.cmd import check
from nova_gpu_numa_sched.cmd import common
from nova_gpu_numa_sched.cmd import discover
from nova_gpu_numa_sched.cmd import output
from nova_gpu_numa_sched.cmd import placement
from nova_gpu_numa_sched.cmd import status

PROG = 'nova-gpu-numa'

_SUBCOMMANDS = {
    'discover': discover,
    'status': status,
    'check': check,
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits with EXIT_ERROR, not 2.

    2 is check's Failure.
    """

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(common.EXIT_ERROR, '%s: error: %s\n' % (self.prog, message))


def build_parser():
    parser = _Parser(
        prog=PROG,
        description='Operate the nova-gpu-numa-sched plugin: what a compute '
                    'host reports (discover), slot usage fleet-wide '
                    '(status), deployment checks (check).')
    parser.add_argument('--config-file', action='append', default=[],
                        metavar='PATH',
                        help='nova.conf to read (repeatable); default: '
                             'oslo.config\'s search, e.g. '
                             '/etc/nova/nova.conf')
    parser.add_argument('--config-dir', action='append', default=[],
                        metavar='DIR',
                        help='directory of *.conf files read after the '
                             'config files (repeatable)')
    parser.add_argument('--debug', action='store_true',
                        help='log debug messages and show tracebacks')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    for module in _SUBCOMMANDS.values():
        sub = module.add_parser(subparsers)
        sub.add_argument('--format', choices=module.FORMATS,
                         default=output.FORMAT_TABLE,
                         help='output format (default: table)')
    return parser


def load_config(args):
    """Parse nova.conf into Nova's global options, as nova's commands do."""
    # Registers every option of Nova and of the plugin.
    import nova.conf
    from oslo_log import log as oslo_log

    from nova_gpu_numa_sched import conf as plugin_conf
    conf = nova.conf.CONF
    assert conf is plugin_conf.CONF
    from nova import config as nova_config
    try:
        oslo_log.register_options(conf)
    except cfg.ArgsAlreadyParsedError:
        pass  # a caller in this process parsed them already
    # What nova.config.parse_args() sets up besides parsing: library
    # defaults and the [profiler] options the database setup reads.
    nova_config.set_lib_defaults()
    if nova_config.profiler:
        nova_config.profiler.set_defaults(conf)
    # A cell mapping's transport_url is read through [DEFAULT]
    # transport_url (CellMapping formats it), an option oslo.messaging
    # registers only when a service builds its RPC transport.
    from oslo_messaging import opts as messaging_opts
    for group, opts in messaging_opts.list_opts():
        if group in (None, 'DEFAULT'):
            conf.register_opts(opts)
    cli = []
    for path in args.config_file:
        cli += ['--config-file', path]
    for path in args.config_dir:
        cli += ['--config-dir', path]
    try:
        conf(cli, project='nova', prog=PROG)
    except cfg.ConfigFilesNotFoundError as e:
        raise common.CommandError('cannot read configuration file(s): %s' % (
            ', '.join(e.config_files)))
    except cfg.ConfigFilesPermissionDeniedError as e:
        raise common.CommandError(
            'no permission to read configuration file(s): %s' % (
                ', '.join(e.config_files)))
    except cfg.ConfigDirNotFoundError as e:
        raise common.CommandError(
            'configuration directory not found: %s' % e.config_dir)
    except (cfg.ConfigFileParseError, cfg.Error) as e:
        raise common.CommandError('invalid configuration: %s' % (
            ' '.join(str(e).split())))
    return conf


def setup_databases(conf):
    """Point Nova's database APIs at nova.conf's, as nova-status does."""
    from nova.db.api import api as api_db_api
    from nova.db.main import api as main_db_api
    from nova import objects
    from oslo_db.sqlalchemy import enginefacade
    objects.register_all()
    for api in (main_db_api, api_db_api):
        try:
            api.configure(conf)
        except enginefacade.AlreadyStartedError:
            pass  # already configured in this process


def _setup_logging(debug):
    """Send only errors (everything with --debug) to stderr.

    The plugin's modules log for services; a command reports on stdout.
    Returns a function that restores the root logger, so that a caller in
    the same process (a test) keeps its own logging.
    """
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        '%(levelname)s %(name)s: %(message)s'))
    root.handlers = [handler]
    root.setLevel(logging.DEBUG if debug else logging.ERROR)

    def restore():
        root.setLevel(saved[0])
        root.handlers = saved[1]
    return restore


def _run(args):
    conf = load_config(args)
    if args.command == 'discover':
        return discover.run(args, conf)
    setup_databases(conf)
    if args.command == 'status':
        return status.run(args)
    return check.run(args, conf)


def main(argv=None):
    """Entry point of the console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    restore_logging = _setup_logging(args.debug)
    try:
        code, text = _run(args)
    except (common.CommandError, placement.PlacementError) as e:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write('%s %s: %s\n' % (PROG, args.command, e))
        return common.EXIT_ERROR
    except (db_exc.DBError, db_exc.CantStartEngineError) as e:
        # Unreachable, or no connection configured at all.
        if args.debug:
            traceback.print_exc()
        sys.stderr.write('%s %s: cannot read Nova\'s databases ([database] '
                         'and [api_database] connection in nova.conf): %s\n'
                         % (PROG, args.command, ' '.join(str(e).split())))
        return common.EXIT_ERROR
    except Exception as e:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write('%s %s: unexpected %s: %s (rerun with --debug for '
                         'details)\n' % (PROG, args.command,
                                         type(e).__name__,
                                         ' '.join(str(e).split())))
        return common.EXIT_ERROR
    finally:
        restore_logging()
    sys.stdout.write(text)
    sys.stdout.flush()
    return code


if __name__ == '__main__':
    sys.exit(main())
