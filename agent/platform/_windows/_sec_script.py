"""The one batched PowerShell query of the security area.

Every part is wrapped by ``Part`` so that a failing cmdlet puts
``@{error = "<Category>: <message>"}`` under its key and the rest of the batch survives. A part's
output is collected before it is emitted: a key holds either the whole result or the error object,
never the objects a cmdlet streamed before it failed.
``<Category>`` is the non-localized ``ErrorCategory`` name (``PermissionDenied``,
``ObjectNotFound``, ...): the message after it is in the PC's language and is only shown to people,
never parsed. Parts that need administrator rights
(secedit, auditpol, BitLocker) are refused up front with ``PermissionDenied`` when the agent is not
elevated, instead of letting each tool print a Vietnamese error.

Only cmdlet objects and CIM properties are returned, with their documented property names, so the
test fixtures mirror the documented ConvertTo-Json shapes. The registry is read from Python
(``_registry``), not here, except where a cmdlet is the only non-localized source.
"""

NAME = "security"

SCRIPT = r"""
$r = @{}
$admin = ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
         ).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
$r.admin = $admin
# The output is collected before anything is emitted: a cmdlet failing halfway must not leave
# the objects it streamed so far next to the error object, where they would read as a complete
# list. One object stays an object and none stays null (the leading comma emits an array whole).
function Part([scriptblock]$Block) {
  try { $o = @(& $Block) }
  catch {
    $cat = if ($_.Exception -is [UnauthorizedAccessException]) { 'PermissionDenied' }
           else { [string]$_.CategoryInfo.Category }
    return @{ error = ('{0}: {1}' -f $cat, $_.Exception.Message) }
  }
  if ($o.Count -eq 1) { $o[0] } elseif ($o.Count -gt 1) { ,$o }
}
function NeedAdmin {
  if (-not $admin) { throw [UnauthorizedAccessException]::new('needs administrator rights') }
}

# ActiveStore is the effective policy (local + GPO); the default PersistentStore is local only.
# https://learn.microsoft.com/powershell/module/netsecurity/get-netfirewallprofile
$r.firewall = Part { Get-NetFirewallProfile -PolicyStore ActiveStore |
  Select-Object Name, Enabled, DefaultInboundAction }

$r.services = Part { Get-CimInstance Win32_Service -Property Name, DisplayName, State, StartMode |
  Select-Object Name, DisplayName, State, StartMode }

# Absent on Windows Server (no Security Center): the error object says so.
$r.security_center = Part {
  Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct |
  Select-Object displayName, productState, timestamp }

$r.defender = Part { Get-MpComputerStatus | Select-Object AMServiceEnabled, AntivirusEnabled,
  RealTimeProtectionEnabled, AntivirusSignatureLastUpdated, AntivirusSignatureAge,
  AMProductVersion, AMRunningMode, DefenderSignaturesOutOfDate }

# Newest installs first; never an online search (it can take minutes).
$r.update_history = Part {
  $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
  $n = [Math]::Min($searcher.GetTotalHistoryCount(), 60)
  if ($n -gt 0) {
    # Categories (IUpdateHistoryEntry2): classification and product GUIDs, never the localized
    # names; often empty for entries that did not come from a Windows Update search.
    $searcher.QueryHistory(0, $n) | ForEach-Object {
      [pscustomobject]@{ Date = $_.Date; ResultCode = [int]$_.ResultCode;
        Operation = [int]$_.Operation; KB = [regex]::Match([string]$_.Title, 'KB\d+').Value
        Categories = @($_.Categories | ForEach-Object { [string]$_.CategoryID }) } }
  } }

$r.hotfix = Part { Get-HotFix | Select-Object HotFixID, InstalledOn }

$r.bitlocker = Part { NeedAdmin
  Get-CimInstance -Namespace root/cimv2/Security/MicrosoftVolumeEncryption `
    -ClassName Win32_EncryptableVolume |
  Select-Object DriveLetter, ProtectionStatus, EncryptionMethod, VolumeType }
$r.system_drive = $env:SystemDrive

$r.users = Part { Get-CimInstance Win32_UserAccount -Filter 'LocalAccount=True' |
  Select-Object Name, SID, Disabled }
$r.local_users = Part { Get-LocalUser |
  Select-Object Name, @{ n = 'SID'; e = { $_.SID.Value } }, Enabled, LastLogon }
# By SID: the group's name is localized. Get-LocalGroupMember fails on orphaned SIDs
# (PowerShell issue #2996), so the CIM association is the fallback.
$r.admins = Part {
  try {
    Get-LocalGroupMember -SID S-1-5-32-544 |
      Select-Object Name, @{ n = 'SID'; e = { $_.SID.Value } }, PrincipalSource
  } catch {
    # LocalAccount: on a domain member WMI may enumerate the domain's groups as well.
    $g = Get-CimInstance Win32_Group -Filter "SID='S-1-5-32-544' AND LocalAccount=True"
    Get-CimAssociatedInstance -InputObject $g -Association Win32_GroupUser |
      Select-Object @{ n = 'Name'; e = { '{0}\{1}' -f $_.Domain, $_.Name } }, SID
  } }

# Programs by full path: the agent runs as SYSTEM, and a name resolved through PATH or the
# current folder could start a planted program with SYSTEM's rights.
$sys32 = Join-Path $env:SystemRoot 'System32'

# secedit writes an INI (UTF-16) whose key names are not localized.
$r.secedit = Part { NeedAdmin
  $f = Join-Path $env:TEMP ('govguard-{0}.inf' -f [guid]::NewGuid())
  try {
    $null = & (Join-Path $sys32 'secedit.exe') /export /cfg $f /areas SECURITYPOLICY /quiet
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path $f)) { throw "secedit exit code $LASTEXITCODE" }
    $o = @{}
    $section = ''
    foreach ($line in Get-Content -LiteralPath $f -Encoding Unicode) {
      if ($line -match '^\[(.+)\]$') { $section = $Matches[1]; continue }
      if ($section -eq 'System Access' -and $line -match '^\s*(\w+)\s*=\s*(.*?)\s*$') {
        $o[$Matches[1]] = $Matches[2] }
    }
    $o
  } finally { Remove-Item -LiteralPath $f -Force -ErrorAction SilentlyContinue } }

# auditpol /backup writes the MS-GPAC CSV; "Setting Value" (column 7) is a number, while the
# "Inclusion Setting" text is localized. Columns are taken by position, not by header text.
$r.audit_policy = Part { NeedAdmin
  $f = Join-Path $env:TEMP ('govguard-{0}.csv' -f [guid]::NewGuid())
  try {
    $null = & (Join-Path $sys32 'auditpol.exe') /backup "/file:$f"
    if ($LASTEXITCODE -ne 0 -or -not (Test-Path $f)) { throw "auditpol exit code $LASTEXITCODE" }
    Get-Content -LiteralPath $f | Select-Object -Skip 1 |
      ConvertFrom-Csv -Header Machine, Target, Subcategory, Guid, Inclusion, Exclusion, Value |
      Where-Object { $_.Guid -like '{*}' -and $_.Target -eq 'System' } |
      Select-Object Guid, Value
  } finally { Remove-Item -LiteralPath $f -Force -ErrorAction SilentlyContinue } }

# First/last connection of each USB disk ever seen (DEVPKEY_Device_*), by instance id. One
# Get-PnpDeviceProperty call for every instance (-InstanceId takes an array): a call per device
# costs seconds on PCs that have seen hundreds of sticks. A device that cannot be asked any more
# only loses its dates, hence SilentlyContinue.
$r.usb_dates = Part {
  $ids = @(Get-ChildItem 'HKLM:\SYSTEM\CurrentControlSet\Enum\USBSTOR\*\*' `
      -ErrorAction SilentlyContinue |
    ForEach-Object { 'USBSTOR\{0}\{1}' -f $_.PSParentPath.Split('\')[-1], $_.PSChildName })
  if ($ids.Count -gt 0) {
    # Grouped by InstanceId, the column the documentation shows (DeviceID in the CIM class).
    Get-PnpDeviceProperty -InstanceId $ids -KeyName DEVPKEY_Device_FirstInstallDate,
      DEVPKEY_Device_LastArrivalDate -ErrorAction SilentlyContinue |
    Group-Object { if ($_.InstanceId) { $_.InstanceId } else { $_.DeviceID } } | ForEach-Object {
      $d = @{}
      foreach ($p in $_.Group) { $d[$p.KeyName] = $p.Data }
      [pscustomobject]@{ InstanceId = $_.Name
        FirstInstallDate = $d['DEVPKEY_Device_FirstInstallDate']
        LastArrivalDate = $d['DEVPKEY_Device_LastArrivalDate'] }
    }
  } }

# Event 260: W32time periodic status with named, non-localized fields (Windows 10 1703+).
# https://learn.microsoft.com/windows-server/networking/windows-time-service/windows-time-for-traceability
$r.time_status = Part {
  $e = Get-WinEvent -LogName 'Microsoft-Windows-Time-Service/Operational' `
    -FilterXPath '*[System[EventID=260]]' -MaxEvents 1
  $d = @{}
  foreach ($n in ([xml]$e.ToXml()).Event.EventData.Data) { $d[$n.Name] = $n.'#text' }
  @{ TimeCreated = $e.TimeCreated; Data = $d } }

$r.sshd_config = Part {
  $f = Join-Path $env:ProgramData 'ssh\sshd_config'
  if (Test-Path -LiteralPath $f) { Get-Content -LiteralPath $f -Raw } }

$r
"""
